#!/usr/bin/env node
// How much time the SDK adds per call over raw HTTP (target: <= 1 ms at p50).
//
// Against a running daemon (WARREN_URL, WARREN_API_KEY, WARREN_TEST_IMAGE or --image): creates
// one sandbox, then times getSandbox and exec(['true']) through the SDK and the same requests
// through bare fetch (JSON decoded, nothing else), interleaved. Prints p50/p99 and the SDK's extra
// p50. A benchmark, not a test: it asserts nothing.
//
// Then the same with the network taken out: globalThis.fetch is replaced by one answering the
// bodies recorded from the daemon, for the SDK and the raw calls alike, so the difference is only
// the SDK's own CPU time per call.
//
//   node sdk/typescript/bench/overhead.mjs --iterations 500

import { parseArgs } from 'node:util';

import { Warren } from '../src/index.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '500' }, image: { type: 'string', default: process.env.WARREN_TEST_IMAGE } } });
const n = Number(values.iterations);
const w = new Warren();
const headers = { authorization: `Bearer ${process.env.WARREN_API_KEY}` };
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))];
};

const sb = await w.createSandbox({ image: values.image, cmd: ['sleep', 'infinity'] });
const base = `${w.url}/v1/sandboxes/${sb.id}`;
const calls = {
  'getSandbox sdk': () => w.getSandbox(sb.id),
  'getSandbox raw': async () => (await fetch(base, { headers })).json(),
  'exec sdk': () => sb.exec(['true']),
  'exec raw': async () => (await fetch(`${base}/exec`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ cmd: ['true'] }) })).json(),
};
async function measure() {
  const times = Object.fromEntries(Object.keys(calls).map((k) => [k, []]));
  for (let i = 0; i < 20; i++) for (const f of Object.values(calls)) await f();
  for (let i = 0; i < n; i++) {
    for (const [name, f] of Object.entries(calls)) {
      const t = performance.now();
      await f();
      times[name].push(performance.now() - t);
    }
  }
  return times;
}

function report(title, times) {
  console.log(title);
  console.log(`${'call'.padEnd(18)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}`);
  for (const [name, xs] of Object.entries(times)) console.log(`${name.padEnd(18)}${pct(xs, 50).toFixed(3).padStart(9)}${pct(xs, 99).toFixed(3).padStart(9)}`);
  for (const op of ['getSandbox', 'exec']) {
    const extra = pct(times[`${op} sdk`], 50) - pct(times[`${op} raw`], 50);
    console.log(`SDK overhead ${op}: p50 ${extra >= 0 ? '+' : ''}${extra.toFixed(3)} ms`);
  }
}

let online;
let bodies;
try {
  online = await measure();
  bodies = { [base]: await (await fetch(base, { headers })).text(), [`${base}/exec`]: JSON.stringify(await calls['exec raw']()) };
} finally {
  await sb.delete();
}
console.log(`node ${process.version}, ${n} iterations each`);
report('against the daemon:', online);
globalThis.fetch = async (url) => new Response(bodies[String(url)], { status: 200, headers: { 'content-type': 'application/json' } });
report('client side only (fetch answering the recorded bodies):', await measure());
