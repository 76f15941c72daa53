import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { eventually, sharedSandbox } from './helpers.js';

const ctx = sharedSandbox();

test('exec result and options', async () => {
  const r = await ctx.sb.exec(['python3', '-c', "import sys; print(6*7); print('oops', file=sys.stderr); sys.exit(3)"]);
  assert.deepEqual([r.exit_code, r.stdout, r.stderr, r.truncated, r.timed_out], [3, '42\n', 'oops\n', false, false]);
  assert.equal((await ctx.sb.exec('echo $A $(pwd) $(id -un)', { env: { A: 'x' }, cwd: '/tmp', user: 'app' })).stdout, 'x /tmp app\n');
  const slow = await ctx.sb.exec(['sleep', '30'], { timeoutS: 1 });
  assert.equal(slow.timed_out, true);
  assert.equal(slow.exit_code, -1);
});

test('streaming callbacks see output before the end', async () => {
  const seen = [];
  const t0 = Date.now();
  const r = await ctx.sb.exec("echo first; sleep 0.5; echo second; echo err >&2; printf '\\377'", {
    onStdout: (s) => seen.push(['out', s, Date.now() - t0]),
    onStderr: (s) => seen.push(['err', s, Date.now() - t0]),
  });
  assert.equal(r.exit_code, 0);
  assert.equal(r.status, 'exit status 0');
  assert.equal(r.stdout, 'first\nsecond\n\ufffd');
  assert.equal(r.stderr, 'err\n');
  const first = seen.find(([, s]) => s === 'first\n');
  assert.ok(first[2] < r.duration_ms, 'first line arrives before the command ends');
});

test('stdin', async () => {
  assert.equal((await ctx.sb.exec(['wc', '-c'], { stdin: 'x'.repeat(1000) })).stdout.trim(), '1000');
  assert.equal((await ctx.sb.exec(['cat'], { stdin: new Uint8Array([104, 105]) })).stdout, 'hi');
  assert.equal((await ctx.sb.exec(['cat'], { stdin: '' })).stdout, '');
  const big = new Uint8Array(3 << 20).fill(121); // more than one 1 MiB write
  const want = createHash('sha256').update(big).digest('hex');
  assert.equal((await ctx.sb.exec(['sha256sum'], { stdin: big })).stdout.split(' ')[0], want);
});

test('spawn: wait, stdin, kill', async () => {
  const lines = [];
  const h = await ctx.sb.spawn('while read l; do echo got:$l; done; echo done', { stdin: true, onStdout: (s) => lines.push(s) });
  assert.ok(h.pid > 1 && h.running);
  await h.sendStdin('a\nb\n');
  await h.closeStdin();
  const r = await h.wait(10_000);
  assert.equal(r.stdout, 'got:a\ngot:b\ndone\n');
  assert.equal(lines.join(''), r.stdout);
  assert.equal(h.running, false);
  const k = await ctx.sb.spawn(['sleep', '60']);
  await assert.rejects(k.wait(200), { name: 'TimeoutError' });
  await k.kill();
  const kr = await k.wait(10_000);
  assert.equal(kr.exit_code, -1);
  assert.match(kr.status, /kill/);
  const noStdin = await ctx.sb.spawn('sleep 1');
  await assert.rejects(noStdin.sendStdin('x'), w.ConflictError);
});

test('detached processes: start, list, attach, stdin, signal', async () => {
  const p = await ctx.sb.startProcess(['python3', '-c', "import sys\nfor l in sys.stdin: print('echo', l.strip(), flush=True)"], { tag: 'echoer', stdin: true });
  assert.equal(p.tag, 'echoer');
  const listed = await ctx.sb.processes();
  assert.ok(listed.some((q) => q.pid === p.pid && q.tag === 'echoer'));
  assert.ok(listed.some((q) => q.tag === 'main'));
  const got = [];
  const attached = ctx.sb.attach(p.pid, { onStdout: (s) => got.push(s) });
  await eventually(async () => {
    await ctx.sb.sendStdin(p.pid, 'ping\n');
    await new Promise((r) => setTimeout(r, 100));
    return got.length > 0;
  });
  await ctx.sb.closeStdin(p.pid);
  const r = await attached;
  assert.ok(got.join('').includes('echo ping\n'));
  assert.equal(r.exit_code, 0);
  await assert.rejects(ctx.sb.attach(p.pid), w.ProcessNotFoundError);
  const s = await ctx.sb.startProcess(['sleep', '60'], { tag: 'sleeper' });
  await ctx.sb.kill(s.pid, 'TERM');
  assert.ok(await eventually(async () => !(await ctx.sb.processes()).some((q) => q.pid === s.pid)));
});
