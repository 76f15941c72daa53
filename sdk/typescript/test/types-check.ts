// Compiled with `tsc --noEmit --strict` by crates/warren/tests/sdk_e2e.rs (never run): proves that
// src/index.d.ts is valid TypeScript and describes the API the way the tests and the README use it.
// A declaration that drifts from this usage fails the compile.

import {
  ConflictError,
  type ExecResult,
  type FileEntry,
  type Image,
  type SandboxInfo,
  type Snapshot,
  type WarrenEvent,
  Sandbox,
  SandboxNotFoundError,
  Terminal,
  Warren,
  WarrenError,
} from '../src/index.js';

export async function usage(): Promise<void> {
  const w = new Warren({ url: 'http://127.0.0.1:7070', apiKey: 'wrn_x', timeoutMs: 5000 });
  const health: { status: string; version: string } = await w.health();
  const sb: Sandbox = await w.createSandbox({ image: 'python:3.12-slim', memoryMb: 256, cmd: ['sleep', 'infinity'], network: 'none', lifecycle: { ttl_s: 60, idle_action: 'hibernate' } });
  const info: SandboxInfo = sb.info;
  const r: ExecResult = await sb.exec('echo hi', { env: { A: 'b' }, cwd: '/tmp', timeoutS: 5, stdin: 'x', onStdout: (s: string) => s.length });
  const code: number = r.exit_code;
  const h = await sb.spawn(['sleep', '1'], { stdin: true });
  await h.sendStdin(new Uint8Array([1]));
  await h.kill('TERM');
  const done: ExecResult = await h.wait(1000);
  const p = await sb.startProcess('sleep 1', { tag: 't' });
  await sb.attach(p.pid, { onStderr: () => undefined });
  const t: Terminal = await sb.pty({ cols: 80, rows: 24 });
  t.write('ls\n');
  t.resize(100, 30);
  const text: string = await t.readUntil('$', 1000);
  const exit: number = await t.wait();
  t.close();
  await sb.files.write('/a', 'text');
  await sb.files.write('/b', new Blob(['x']).stream());
  const entries: FileEntry[] = await sb.files.list('/', { depth: 2 });
  const bytes: Uint8Array = await sb.files.readBytes('/a');
  const n: number = await sb.files.download('/a', '/tmp/a');
  await sb.files.chmod('/a', 0o755);
  const snap: Snapshot = await sb.snapshot({ memory: true, name: 'n' });
  const { sandboxes } = await sb.branch(2);
  const first: Sandbox | undefined = sandboxes[0];
  await (await sb.pause()).resume();
  await sb.setLifecycle({ idle_timeout_s: 0 });
  const url: string = sb.previewUrl(8080, { withToken: false });
  const cpu: number = (await sb.metrics()).current.cpu_percent;
  const events: WarrenEvent[] = await sb.events({ action: 'sandbox.' });
  for await (const ev of w.streamEvents({ after: 1 })) {
    const seq: number = ev.seq;
    void seq;
    break;
  }
  const img: Image = await w.pullImage('busybox', { onProgress: (e) => e.event });
  const listed: Sandbox[] = await w.listSandboxes({ state: 'running', labels: { a: 'b' } });
  const out: number = await w.withSandbox({ snapshot: snap.id }, async (s) => (await s.exec(['true'])).exit_code);
  try {
    await w.getSandbox('sb-x');
  } catch (e) {
    if (e instanceof SandboxNotFoundError || e instanceof ConflictError) {
      const c: string = e.code;
      const s: number = e.status;
      void c;
      void s;
    }
    if (e instanceof WarrenError) void e.apiMessage;
  }
  await sb[Symbol.asyncDispose]();
  void [health, info, code, done, text, exit, entries, bytes, n, first, url, cpu, events, img, listed, out];
}
