// Decoders for the API's streams: Server-Sent Events (streaming exec, process attach, the event
// stream) and newline-delimited JSON (image pull progress), plus the exec event follower.

import { ProtocolError, errorFromBody } from './errors.js';

/** Incremental text/event-stream parser: feed() strings, get complete messages. */
export class SseDecoder {
  constructor() {
    this.buf = '';
    this.event = '';
    this.data = [];
    this.id = null;
  }

  /**
   * Add text; return the messages it completes.
   * @param {string} text
   * @returns {{event: string, data: string, id: string | null}[]}
   */
  feed(text) {
    this.buf += text;
    const out = [];
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      let line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.data.length || this.event) out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (name === 'event') this.event = value;
      else if (name === 'data') this.data.push(value);
      else if (name === 'id') this.id = value;
    }
    return out;
  }
}

/** Incremental NDJSON parser. */
export class NdjsonDecoder {
  constructor() {
    this.buf = '';
  }

  /** Add text; return the objects of the lines it completes. */
  feed(text) {
    this.buf += text;
    const lines = this.buf.split('\n');
    this.buf = lines.pop();
    return lines.filter((l) => l.trim()).map((l) => JSON.parse(l));
  }
}

/** The text of an output chunk `{data}` or `{b64}` (invalid UTF-8 replaced). */
export function chunkText(d) {
  if (typeof d.data === 'string') return d.data;
  return Buffer.from(d.b64 ?? '', 'base64').toString('utf8');
}

/** Follows one process's events: callbacks, collected output, pid and exit. */
export class ExecCollector {
  constructor(onStdout, onStderr) {
    this.onStdout = onStdout;
    this.onStderr = onStderr;
    this.pid = null;
    this.exit = null;
    this.out = [];
    this.err = [];
  }

  /** Take one event; true once the process ended. An `error` event throws. */
  handle(msg) {
    let data;
    try {
      data = msg.data ? JSON.parse(msg.data) : {};
    } catch {
      throw new ProtocolError('protocol_error', `bad event data: ${msg.data.slice(0, 200)}`);
    }
    switch (msg.event) {
      case 'start':
        this.pid = data.pid;
        break;
      case 'stdout':
      case 'stderr': {
        const text = chunkText(data);
        (msg.event === 'stdout' ? this.out : this.err).push(text);
        const cb = msg.event === 'stdout' ? this.onStdout : this.onStderr;
        if (cb) cb(text);
        break;
      }
      case 'exit':
        this.exit = data;
        return true;
      case 'error':
        throw errorFromBody(data.error?.code ?? 'internal', data.error?.message ?? 'stream failed');
      default:
    }
    return false;
  }

  /** The outcome, once the process has ended. */
  result() {
    if (!this.exit) throw new ProtocolError('protocol_error', 'the stream ended before the process exited');
    return {
      exit_code: this.exit.exit_code,
      stdout: this.out.join(''),
      stderr: this.err.join(''),
      truncated: false,
      timed_out: Boolean(this.exit.timed_out),
      duration_ms: this.exit.duration_ms ?? 0,
      status: this.exit.status ?? null,
    };
  }
}

/**
 * Iterate a fetch Response body as text chunks.
 * @param {Response} res
 */
export async function* textChunks(res) {
  const decoder = new TextDecoder();
  for await (const chunk of res.body) yield decoder.decode(chunk, { stream: true });
}

/** Iterate the SSE messages of a fetch Response. */
export async function* sseMessages(res) {
  const dec = new SseDecoder();
  for await (const text of textChunks(res)) yield* dec.feed(text);
}
