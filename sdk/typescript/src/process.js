// A command running in the background (streaming exec held open) while the caller goes on.

import { sandboxPath } from './http.js';
import { signalName } from './ops.js';
import { ExecCollector, sseMessages } from './streams.js';

/**
 * A running command from Sandbox.spawn(). Its output goes to the callbacks and is collected;
 * wait() resolves to the ExecResult. The command lives as long as this handle's connection (use
 * Sandbox.startProcess for one that outlives the client).
 */
export class CommandHandle {
  constructor(http, sandboxId, onStdout, onStderr) {
    this.http = http;
    this.sandboxId = sandboxId;
    this.collector = new ExecCollector(onStdout, onStderr);
    this.done = null;
  }

  /** Start the command; resolves once it runs (SandBox.spawn calls this). */
  async begin(body) {
    let started;
    const startedP = new Promise((resolve) => {
      started = resolve;
    });
    this.done = (async () => {
      try {
        const res = await this.http.send('POST', sandboxPath(this.sandboxId, '/exec'), {
          json: body,
          headers: { accept: 'text/event-stream' },
          timeoutMs: null,
        });
        for await (const msg of sseMessages(res)) {
          const finished = this.collector.handle(msg);
          if (this.collector.pid !== null) started();
          if (finished) break;
        }
        return this.collector.result();
      } finally {
        started();
      }
    })();
    this.done.catch(() => {});
    await startedP;
    if (this.collector.pid === null) await this.done; // throws what ended it
    return this;
  }

  /** The process id inside the sandbox. */
  get pid() {
    return this.collector.pid;
  }

  /** True until the command has ended. */
  get running() {
    return this.collector.exit === null;
  }

  /**
   * Wait for the command to end; its ExecResult. Rejects with a TimeoutError after timeoutMs
   * (the command keeps running).
   */
  async wait(timeoutMs) {
    if (timeoutMs === undefined) return this.done;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`process ${this.pid} still running after ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Write to the command's stdin (spawned with stdin: true). */
  async sendStdin(data) {
    await this.http.empty('POST', sandboxPath(this.sandboxId, `/processes/${this.pid}/stdin`), { body: data, headers: { 'content-type': 'application/octet-stream' } });
  }

  /** Close its stdin: the command reads end-of-file. */
  async closeStdin() {
    await this.http.empty('POST', sandboxPath(this.sandboxId, `/processes/${this.pid}/stdin/close`));
  }

  /** Send KILL (default) or TERM. */
  async kill(signal = 'KILL') {
    await this.http.empty('POST', sandboxPath(this.sandboxId, `/processes/${this.pid}/signal`), { json: { signal: signalName(signal) } });
  }
}
