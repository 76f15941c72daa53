#!/usr/bin/env node
// A CI-style job on warren: upload a project into a fresh sandbox, run its steps with live
// output, collect an artifact, and always clean up. Exits non-zero when a step fails, like a CI
// runner would.
//
//   WARREN_URL=http://127.0.0.1:7070 WARREN_API_KEY=... node examples/ci_job.mjs --image python:3.12-slim [project-dir]
//
// Uses the TypeScript SDK straight from sdk/typescript (no install step: it has no dependencies).

import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Warren } from '../sdk/typescript/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  options: { image: { type: 'string', default: process.env.WARREN_IMAGE ?? 'python:3.12-slim' } },
  allowPositionals: true,
});
const project = positionals[0] ?? join(here, 'ci-project');

// The pipeline: each step runs in /src; the job stops at the first failure.
const steps = [
  { name: 'compile', cmd: ['python3', '-m', 'compileall', '-q', '.'] },
  { name: 'test', cmd: ['python3', '-m', 'unittest', '-v'] },
  { name: 'run', cmd: 'echo "the cat and the dog and the bird" | python3 wordcount.py > /out/top3.txt && cat /out/top3.txt' },
];

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === '__pycache__') continue;
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** A callback that prints whole lines with a prefix, however the output was chunked. */
function lines(prefix, stream) {
  let partial = '';
  const cb = (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const line of parts) stream.write(`${prefix}${line}\n`);
  };
  cb.flush = () => {
    if (partial) stream.write(`${prefix}${partial}\n`);
    partial = '';
  };
  return cb;
}

const warren = new Warren();
const started = Date.now();
const sandbox = await warren.createSandbox({
  image: values.image,
  cmd: ['sleep', 'infinity'],
  labels: { job: 'ci-example' },
  lifecycle: { ttl_s: 1800 }, // a runaway job cannot outlive half an hour
});
let failed = null;
try {
  console.log(`sandbox ${sandbox.id} ready in ${Date.now() - started} ms`);
  for (const file of walk(project)) {
    await sandbox.files.write(`/src/${relative(project, file)}`, readFileSync(file));
  }
  await sandbox.files.mkdir('/out');
  for (const step of steps) {
    const t0 = Date.now();
    const out = lines(`  ${step.name} | `, process.stdout);
    const err = lines(`  ${step.name} ! `, process.stdout);
    const r = await sandbox.exec(step.cmd, { cwd: '/src', timeoutS: 300, onStdout: out, onStderr: err });
    out.flush();
    err.flush();
    console.log(`step ${step.name}: exit ${r.exit_code} in ${Date.now() - t0} ms`);
    if (r.exit_code !== 0) {
      failed = step.name;
      break;
    }
  }
  if (!failed) {
    const out = join(mkdtempSync(join(tmpdir(), 'warren-ci-')), 'top3.txt');
    const n = await sandbox.files.download('/out/top3.txt', out);
    console.log(`artifact: ${out} (${n} bytes)`);
  }
} finally {
  await sandbox.delete();
}
console.log(failed ? `job FAILED at step ${failed}` : `job passed in ${Date.now() - started} ms`);
process.exit(failed ? 1 : 0);
