// A sandbox handle: lifecycle, exec, processes, files, PTY, snapshots, ports, metrics, events.

import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

import { FileNotFoundError, SandboxNotFoundError, invalid } from './errors.js';
import { sandboxPath, uploadBody } from './http.js';
import { absPath, compact, execBody, signalName, updateBody } from './ops.js';
import { CommandHandle } from './process.js';
import { ExecCollector, sseMessages } from './streams.js';
import { Terminal } from './terminal.js';

/** The most the API takes in one stdin write. */
const STDIN_CHUNK = 1 << 20;
const LIFECYCLE = ['pause', 'resume', 'hibernate', 'stop', 'start', 'archive'];

/**
 * One sandbox. Get one from Warren.createSandbox() or getSandbox(). `info` is the sandbox as last
 * seen (the API's JSON), refreshed by every call that returns it. `await using sb = ...` (or
 * `Warren.withSandbox`) deletes it at the end.
 */
export class Sandbox {
  constructor(http, info) {
    this.http = http;
    /** The sandbox as last seen. */
    this.info = info;
    /** File operations inside this sandbox. */
    this.files = new Files(http, info.id);
  }

  /** The sandbox id (`sb-…`), also its hostname. */
  get id() {
    return this.info.id;
  }

  /** The state as last seen. */
  get state() {
    return this.info.state;
  }

  async set(method, rest, opts) {
    this.info = await this.http.json(method, sandboxPath(this.id, rest), opts);
    return this;
  }

  /** Re-read the sandbox from the daemon. */
  async refresh() {
    return this.set('GET', '');
  }

  /** Delete the sandbox (works from any state). */
  async delete() {
    await this.http.empty('DELETE', sandboxPath(this.id));
  }

  /** Delete, ignoring a sandbox that is gone already (for `await using`). */
  async [Symbol.asyncDispose]() {
    try {
      await this.delete();
    } catch (e) {
      if (!(e instanceof SandboxNotFoundError)) throw e;
    }
  }

  /** Freeze every process in place (memory kept): running → paused. */
  async pause() {
    return this.set('POST', '/pause');
  }

  /** Thaw a paused sandbox, or restore a hibernated one: → running. */
  async resume() {
    return this.set('POST', '/resume');
  }

  /** Checkpoint memory to disk and release it: running/paused → hibernated. */
  async hibernate() {
    return this.set('POST', '/hibernate');
  }

  /** Kill every process, keep the files: → stopped. */
  async stop() {
    return this.set('POST', '/stop');
  }

  /** Boot a stopped sandbox again on its files: stopped → running. */
  async start() {
    return this.set('POST', '/start');
  }

  /** Move a stopped or hibernated sandbox's files to the archive: → archived. */
  async archive() {
    return this.set('POST', '/archive');
  }

  /** Any lifecycle verb by name (pause, resume, hibernate, stop, start, archive). */
  async lifecycle(verb) {
    if (!LIFECYCLE.includes(verb)) throw invalid(`unknown lifecycle verb ${JSON.stringify(verb)}`);
    return this.set('POST', `/${verb}`);
  }

  /** Change labels, metadata, lifecycle, network or publicPorts (each replaces the whole value). */
  async update(changes) {
    return this.set('PATCH', '', { json: updateBody(changes) });
  }

  /** Replace the lifecycle policy ({idle_timeout_s, idle_action, auto_archive_after_s, auto_delete_after_s, ttl_s}). */
  async setLifecycle(policy) {
    return this.update({ lifecycle: policy });
  }

  /** The main process's output retained so far (the last `tail` lines). */
  async logs(tail) {
    const res = await this.http.send('GET', sandboxPath(this.id, '/logs'), { query: { tail } });
    return res.text();
  }

  /**
   * Run a command to completion; its ExecResult (a non-zero exit is not an error). `cmd` is an
   * array (run as is) or a string (run by `sh -c`). With onStdout/onStderr the output is streamed
   * to them as produced (and still collected); `stdin` is fed to the command, then closed.
   */
  async exec(cmd, opts = {}) {
    const streamed = opts.onStdout || opts.onStderr || opts.stdin !== undefined;
    const body = execBody(cmd, { ...opts, stdin: opts.stdin !== undefined });
    if (!streamed) {
      return this.http.json('POST', sandboxPath(this.id, '/exec'), { json: body, timeoutMs: ((opts.timeoutS ?? 60) + 30) * 1000 });
    }
    const collector = new ExecCollector(opts.onStdout, opts.onStderr);
    const res = await this.http.send('POST', sandboxPath(this.id, '/exec'), { json: body, headers: { accept: 'text/event-stream' }, timeoutMs: null });
    for await (const msg of sseMessages(res)) {
      if (collector.handle(msg)) break;
      if (msg.event === 'start' && opts.stdin !== undefined) {
        const bytes = typeof opts.stdin === 'string' ? new TextEncoder().encode(opts.stdin) : opts.stdin;
        for (let i = 0; i < bytes.length; i += STDIN_CHUNK) await this.sendStdin(collector.pid, bytes.subarray(i, i + STDIN_CHUNK));
        await this.closeStdin(collector.pid);
      }
    }
    return collector.result();
  }

  /**
   * Start a command in the background; resolves once it runs to a CommandHandle (`pid`,
   * `wait()`, `kill()`, `sendStdin()` with `stdin: true`).
   */
  async spawn(cmd, opts = {}) {
    return new CommandHandle(this.http, this.id, opts.onStdout, opts.onStderr).begin(execBody(cmd, opts));
  }

  /** Start a detached process that outlives this client (e.g. a server); see attach(). */
  async startProcess(cmd, opts = {}) {
    return this.http.json('POST', sandboxPath(this.id, '/processes'), { json: execBody(cmd, opts) });
  }

  /** The processes started through warren that still run (the main one has tag `main`). */
  async processes() {
    return (await this.http.json('GET', sandboxPath(this.id, '/processes'))).items;
  }

  /** Follow a running process from now on until it exits; its outcome (output since attaching). */
  async attach(pid, opts = {}) {
    const collector = new ExecCollector(opts.onStdout, opts.onStderr);
    const res = await this.http.send('GET', sandboxPath(this.id, `/processes/${Number(pid)}/events`), { headers: { accept: 'text/event-stream' }, timeoutMs: null });
    for await (const msg of sseMessages(res)) if (collector.handle(msg)) break;
    return collector.result();
  }

  /** Send KILL (default) or TERM to a process. */
  async kill(pid, signal = 'KILL') {
    return this.http.empty('POST', sandboxPath(this.id, `/processes/${Number(pid)}/signal`), { json: { signal: signalName(signal) } });
  }

  /** Write to a process's stdin (started with stdin: true); at most 1 MiB per call. */
  async sendStdin(pid, data) {
    return this.http.empty('POST', sandboxPath(this.id, `/processes/${Number(pid)}/stdin`), { body: data, headers: { 'content-type': 'application/octet-stream' } });
  }

  /** Close a process's stdin. */
  async closeStdin(pid) {
    return this.http.empty('POST', sandboxPath(this.id, `/processes/${Number(pid)}/stdin/close`));
  }

  /** Open an interactive terminal (a login shell unless `cmd` is given). */
  async pty(opts = {}) {
    return Terminal.open(this.http, this.id, opts);
  }

  /** Capture the files (and with memory: true, the running processes). */
  async snapshot(opts = {}) {
    return this.http.json('POST', sandboxPath(this.id, '/snapshot'), { json: compact({ memory: Boolean(opts.memory), name: opts.name, labels: opts.labels }) });
  }

  /** Snapshot with memory and start `count` sandboxes from it: {snapshot, sandboxes}. */
  async branch(count) {
    if (!Number.isInteger(count) || count < 1 || count > 32) throw invalid(`count must be 1..=32, got ${count}`);
    const r = await this.http.json('POST', sandboxPath(this.id, '/branch'), { json: { count } });
    return { snapshot: r.snapshot, sandboxes: r.sandboxes.map((s) => new Sandbox(this.http, s)) };
  }

  /** TCP ports the sandbox listens on, with their preview URLs. */
  async ports() {
    return (await this.http.json('GET', sandboxPath(this.id, '/ports'))).items;
  }

  /** The URL of `port` through the preview proxy under the API's address; a private port's URL
   * carries the access token unless withToken is false. */
  previewUrl(port, { withToken = true } = {}) {
    let url = `${this.http.url}${sandboxPath(this.id, `/ports/${Number(port)}/`)}`;
    const net = this.info.network ?? {};
    if (withToken && net.access_token && !(net.public_ports ?? []).includes(port)) url += `?warren_token=${net.access_token}`;
    return url;
  }

  /** CPU, memory, pids and disk now, and the last 10 minutes of samples. */
  async metrics() {
    return this.http.json('GET', sandboxPath(this.id, '/metrics'));
  }

  /** This sandbox's recorded events. */
  async events(opts = {}) {
    return (await this.http.json('GET', '/v1/events', { query: { sandbox: this.id, action: opts.action, after: opts.after, limit: opts.limit } })).items;
  }
}

/** Files inside one sandbox. Paths are absolute; `user` (default: the image's) owns what is created. */
export class Files {
  constructor(http, sandboxId) {
    this.http = http;
    this.id = sandboxId;
  }

  q(path, user, extra = {}) {
    return { path: absPath(path), user, ...extra };
  }

  /** The whole file as bytes. */
  async readBytes(path, opts = {}) {
    const res = await this.http.send('GET', sandboxPath(this.id, '/files'), { query: this.q(path, opts.user) });
    return new Uint8Array(await res.arrayBuffer());
  }

  /** The whole file as UTF-8 text. */
  async readText(path, opts = {}) {
    const res = await this.http.send('GET', sandboxPath(this.id, '/files'), { query: this.q(path, opts.user) });
    return res.text();
  }

  /** The file as a web ReadableStream of chunks (nothing held whole). */
  async readStream(path, opts = {}) {
    const res = await this.http.send('GET', sandboxPath(this.id, '/files'), { query: this.q(path, opts.user), timeoutMs: null });
    return res.body;
  }

  /** Write (replace atomically) a file; parents are created. `data`: string, Uint8Array,
   * ReadableStream, Node Readable or (async) iterable of Uint8Array (streamed). */
  async write(path, data, opts = {}) {
    if (path.endsWith('/')) throw invalid(`path must name a file, got ${JSON.stringify(path)}`);
    await this.http.empty('PUT', sandboxPath(this.id, '/files'), { query: this.q(path, opts.user), body: uploadBody(data), headers: { 'content-type': 'application/octet-stream' }, timeoutMs: null });
  }

  /** Stream a local file into the sandbox. */
  async upload(localPath, path, opts = {}) {
    return this.write(path, createReadStream(localPath), opts);
  }

  /** Stream a sandbox file to a local path; resolves to the bytes written. */
  async download(path, localPath, opts = {}) {
    const body = await this.readStream(path, opts);
    let n = 0;
    const counted = Readable.fromWeb(body).on('data', (c) => {
      n += c.length;
    });
    await pipeline(counted, createWriteStream(localPath));
    return n;
  }

  /** Entries below a directory, `depth` levels deep (depth-first, name order). */
  async list(path, opts = {}) {
    return (await this.http.json('GET', sandboxPath(this.id, '/files/list'), { query: this.q(path, opts.user, { depth: opts.depth ?? 1 }) })).entries;
  }

  /** One file, directory or symlink. */
  async stat(path, opts = {}) {
    return this.http.json('GET', sandboxPath(this.id, '/files/stat'), { query: this.q(path, opts.user) });
  }

  /** True when something exists at `path`. */
  async exists(path) {
    try {
      await this.stat(path);
      return true;
    } catch (e) {
      if (e instanceof FileNotFoundError) return false;
      throw e;
    }
  }

  /** `mkdir -p`; an existing directory is fine. */
  async mkdir(path, opts = {}) {
    return this.http.json('POST', sandboxPath(this.id, '/files/mkdir'), { json: compact({ path: absPath(path), mode: opts.mode }), query: { user: opts.user } });
  }

  /** Remove a file, symlink or directory (a non-empty one needs recursive: true). */
  async remove(path, opts = {}) {
    return this.http.empty('DELETE', sandboxPath(this.id, '/files'), { query: this.q(path, undefined, { recursive: Boolean(opts.recursive) }) });
  }

  /** Rename `from` to `to` (parents created, an existing file replaced). */
  async move(from, to, opts = {}) {
    return this.http.json('POST', sandboxPath(this.id, '/files/move'), { json: { from: absPath(from, 'from'), to: absPath(to, 'to') }, query: { user: opts.user } });
  }

  /** Set permission bits (0o755 or "0755"). */
  async chmod(path, mode) {
    const m = typeof mode === 'number' ? mode.toString(8).padStart(4, '0') : mode;
    return this.http.json('POST', sandboxPath(this.id, '/files/chmod'), { json: { path: absPath(path), mode: m } });
  }

  /** Set owner and/or group (names or numeric ids). */
  async chown(path, owner, group) {
    if (owner === undefined && group === undefined) throw invalid('chown needs owner or group');
    return this.http.json('POST', sandboxPath(this.id, '/files/chown'), { json: compact({ path: absPath(path), owner, group }) });
  }

  /** A tar of the tree at `path` as a web ReadableStream. */
  async readTar(path, opts = {}) {
    const res = await this.http.send('GET', sandboxPath(this.id, '/archive'), { query: this.q(path, opts.user), timeoutMs: null });
    return res.body;
  }

  /** Extract a tar (any upload body) into directory `path`. */
  async writeTar(path, data, opts = {}) {
    await this.http.empty('PUT', sandboxPath(this.id, '/archive'), { query: this.q(path, opts.user), body: uploadBody(data), headers: { 'content-type': 'application/x-tar' }, timeoutMs: null });
  }
}
