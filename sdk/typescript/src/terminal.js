// An interactive terminal (PTY) in a sandbox over the API's WebSocket: binary frames carry
// terminal bytes both ways; text frames carry {"type":"resize"} (client) and {"type":"exit"} /
// {"type":"error"} (server).

import { AgentError } from './errors.js';
import { sandboxPath } from './http.js';
import { connectWebSocket } from './websocket.js';

const encoder = new TextEncoder();

/** A process on a pseudo-terminal. Bytes written are keystrokes; bytes read are the screen. */
export class Terminal {
  constructor(ws) {
    this.ws = ws;
    /** The process's exit status once it ended, else null. @type {number | null} */
    this.exitCode = null;
  }

  /** Connect (Sandbox.pty calls this). */
  static async open(http, sandboxId, opts = {}) {
    const q = new URLSearchParams({ cols: String(opts.cols ?? 80), rows: String(opts.rows ?? 24) });
    for (const k of ['cmd', 'user', 'cwd']) if (opts[k] !== undefined) q.set(k, opts[k]);
    const url = http.url.replace(/^http/, 'ws') + sandboxPath(sandboxId, '/pty') + '?' + q;
    const headers = http.apiKey ? { authorization: `Bearer ${http.apiKey}` } : {};
    return new Terminal(await connectWebSocket(url, headers));
  }

  /** Send keystrokes (strings are UTF-8 encoded). */
  write(data) {
    this.ws.send(typeof data === 'string' ? encoder.encode(data) : data);
  }

  /** Resize the terminal (the program gets SIGWINCH). */
  resize(cols, rows) {
    this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  /**
   * The next output bytes; an empty array once the process has ended.
   * @param {number} [timeoutMs] reject with a TimeoutError after this long
   * @returns {Promise<Uint8Array>}
   */
  async read(timeoutMs) {
    while (this.exitCode === null) {
      const msg = await this.ws.recv(timeoutMs);
      if (msg === null) return new Uint8Array(0);
      if (msg.type === 'binary') return msg.data;
      const notice = JSON.parse(msg.data);
      if (notice.type === 'exit') this.exitCode = notice.exit_code;
      else if (notice.type === 'error') throw new AgentError('agent_error', notice.message ?? 'terminal error');
    }
    return new Uint8Array(0);
  }

  /** Read until the output contains `marker`; resolve to everything read (as text). */
  async readUntil(marker, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(marker)) {
      const left = deadline - Date.now();
      if (left <= 0) throw Object.assign(new Error(`${JSON.stringify(marker)} not seen in terminal output within ${timeoutMs} ms: ${JSON.stringify(text.slice(-300))}`), { name: 'TimeoutError' });
      const chunk = await this.read(left);
      if (chunk.length === 0 && this.exitCode !== null) throw new Error(`terminal exited (${this.exitCode}) before ${JSON.stringify(marker)} appeared: ${JSON.stringify(text.slice(-300))}`);
      text += decoder.decode(chunk, { stream: true });
    }
    return text;
  }

  /** Wait for the process to end (discarding output); its exit code. */
  async wait(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.exitCode === null) {
      const left = deadline - Date.now();
      if (left <= 0) throw Object.assign(new Error('terminal still running'), { name: 'TimeoutError' });
      const chunk = await this.read(left);
      if (chunk.length === 0 && this.exitCode === null) throw new Error('terminal closed without an exit code');
    }
    return this.exitCode;
  }

  /** Close the socket (the process is killed if it still runs). */
  close() {
    this.ws.close();
  }
}
