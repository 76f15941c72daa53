// The HTTP transport: one place that calls fetch, sets the key, and turns error answers into
// WarrenError subclasses. Every API call goes through request() or stream().

import { WarrenConnectionError, errorFromResponse, invalid } from './errors.js';

export const VERSION = '0.1.0';
const DEFAULT_URL = 'http://127.0.0.1:7070';

/** Resolve the base URL and key from options, then WARREN_URL / WARREN_API_KEY. */
export function resolveConfig(options = {}) {
  const env = globalThis.process?.env ?? {};
  const url = (options.url ?? env.WARREN_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(url)) throw new TypeError(`warren URL must start with http:// or https://, got ${url}`);
  const apiKey = options.apiKey !== undefined ? options.apiKey : env.WARREN_API_KEY;
  return { url, apiKey: apiKey || null, timeoutMs: options.timeoutMs ?? 120_000 };
}

/** A validated, percent-encoded path segment. */
export function seg(value, what) {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} must be a non-empty string`);
  return encodeURIComponent(value);
}

/** `/v1/sandboxes/{id}` plus `rest`. */
export function sandboxPath(id, rest = '') {
  return `/v1/sandboxes/${seg(id, 'sandbox id')}${rest}`;
}

/** The transport shared by a client and its sandboxes. */
export class Http {
  constructor(config) {
    this.url = config.url;
    this.apiKey = config.apiKey;
    this.timeoutMs = config.timeoutMs;
    this.headers = { 'user-agent': `warren-js/${VERSION}` };
    if (this.apiKey) this.headers.authorization = `Bearer ${this.apiKey}`;
  }

  /**
   * Send a request; resolve to the open Response once its status is known to be a success.
   * @param {string} method
   * @param {string} path
   * @param {{query?: Record<string, string | number | boolean | undefined | null>, json?: unknown,
   *   body?: any, headers?: Record<string,string>, timeoutMs?: number | null, signal?: AbortSignal}} [opts]
   */
  async send(method, path, opts = {}) {
    let url = this.url + path;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null) q.set(k, String(v));
      const s = q.toString();
      if (s) url += `?${s}`;
    }
    const headers = { ...this.headers, ...(opts.headers ?? {}) };
    const init = { method, headers };
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      init.body = opts.body;
      if (typeof opts.body !== 'string' && !(opts.body instanceof Uint8Array)) init.duplex = 'half';
    }
    // The timeout bounds the wait for the answer's head (streams are read without one). One
    // AbortController and timer per request: AbortSignal.timeout()/any() cost ~0.5 ms each on Node 20.
    const timeoutMs = opts.timeoutMs === undefined ? this.timeoutMs : opts.timeoutMs;
    let timer;
    if (timeoutMs) {
      const ac = new AbortController();
      timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
      if (opts.signal) opts.signal.addEventListener('abort', () => ac.abort(opts.signal.reason), { once: true });
      init.signal = ac.signal;
    } else if (opts.signal) {
      init.signal = opts.signal;
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (init.signal?.aborted) throw new WarrenConnectionError('connection_error', `warren at ${this.url} did not answer within ${timeoutMs} ms`, 0);
      throw new WarrenConnectionError('connection_error', `cannot reach warren at ${this.url}: ${e.cause?.message ?? e.message}`, 0);
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 400) throw errorFromResponse(res.status, (h) => res.headers.get(h), await res.text());
    return res;
  }

  /** Send a request and parse its JSON answer (undefined for 204). */
  async json(method, path, opts) {
    const res = await this.send(method, path, opts);
    if (res.status === 204) {
      await res.body?.cancel();
      return undefined;
    }
    return res.json();
  }

  /** Send a request whose answer has no body. */
  async empty(method, path, opts) {
    const res = await this.send(method, path, opts);
    await res.body?.cancel();
  }
}

/** An upload body fetch can stream: strings and bytes as is; Node streams, async iterables and
 * web ReadableStreams streamed. */
export function uploadBody(data) {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data && (typeof data[Symbol.asyncIterator] === 'function' || typeof data.getReader === 'function')) return data;
  if (data && typeof data[Symbol.iterator] === 'function') {
    const it = data;
    return (async function* () {
      yield* it;
    })();
  }
  throw new TypeError('cannot upload this value: give a string, Uint8Array, ReadableStream or (async) iterable of Uint8Array');
}
