// The client: sandboxes, snapshots, events, images, health and the daemon's metrics.

import { ProtocolError, errorFromBody, invalid } from './errors.js';
import { Http, resolveConfig, sandboxPath, seg } from './http.js';
import { createBody, eventQuery } from './ops.js';
import { Sandbox } from './sandbox.js';
import { NdjsonDecoder, sseMessages, textChunks } from './streams.js';

/**
 * A connection to a warren daemon.
 *
 * Options: `url` (default `$WARREN_URL`, else http://127.0.0.1:7070), `apiKey` (default
 * `$WARREN_API_KEY`), `timeoutMs` for plain requests (default 120000; exec adds its own).
 */
export class Warren {
  constructor(options = {}) {
    this.http = new Http(resolveConfig(options));
  }

  /** The daemon's base URL. */
  get url() {
    return this.http.url;
  }

  /** `{status: "ok", version}` (no key needed). */
  async health() {
    return this.http.json('GET', '/healthz');
  }

  /**
   * Create a sandbox from an `image` (pulled if not local) or a `snapshot` (id or name); resolves
   * once it runs. Options: cmd, env, cpu, memoryMb, pidsLimit, diskMb, workdir, user, labels,
   * metadata, lifecycle, network (a policy object or just its mode), publicPorts.
   */
  async createSandbox(options) {
    const info = await this.http.json('POST', '/v1/sandboxes', { json: createBody(options ?? {}), timeoutMs: 600_000 });
    return new Sandbox(this.http, info);
  }

  /**
   * Create a sandbox, run `fn` with it, and delete it afterwards (even when `fn` throws).
   * @template T
   * @param {object} options as createSandbox
   * @param {(sb: Sandbox) => Promise<T>} fn
   * @returns {Promise<T>}
   */
  async withSandbox(options, fn) {
    const sb = await this.createSandbox(options);
    try {
      return await fn(sb);
    } finally {
      await sb[Symbol.asyncDispose]();
    }
  }

  /** The sandbox with this id (SandboxNotFoundError if none). */
  async getSandbox(id) {
    return new Sandbox(this.http, await this.http.json('GET', sandboxPath(id)));
  }

  /** Every sandbox matching all the filters given (state, image, labels), oldest first. */
  async listSandboxes(filters = {}) {
    const out = [];
    let cursor;
    const label = filters.labels ? Object.entries(filters.labels).map(([k, v]) => `${k}=${v}`).join(',') : undefined;
    do {
      const page = await this.http.json('GET', '/v1/sandboxes', { query: { state: filters.state, image: filters.image, label, cursor, limit: filters.pageSize ?? 100 } });
      out.push(...page.items.map((s) => new Sandbox(this.http, s)));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** Delete a sandbox by id. */
  async deleteSandbox(id) {
    return this.http.empty('DELETE', sandboxPath(id));
  }

  /** Every snapshot (of one source sandbox with `{sandbox}`), oldest first. */
  async listSnapshots(filters = {}) {
    const out = [];
    let cursor;
    do {
      const page = await this.http.json('GET', '/v1/snapshots', { query: { sandbox: filters.sandbox, cursor, limit: 500 } });
      out.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** A snapshot by id or name. */
  async getSnapshot(id) {
    return this.http.json('GET', `/v1/snapshots/${seg(id, 'snapshot id')}`);
  }

  /** Delete a snapshot nothing was made from (ConflictError otherwise). */
  async deleteSnapshot(id) {
    return this.http.empty('DELETE', `/v1/snapshots/${seg(id, 'snapshot id')}`);
  }

  /** Recorded events, oldest first: `{items, next_cursor}` (filters: sandbox, action prefix, after, limit). */
  async listEvents(filters = {}) {
    return this.http.json('GET', '/v1/events', { query: eventQuery(filters) });
  }

  /**
   * Events as they happen (after replaying those after seq `after`), as an async iterator; stop
   * with `break` or by aborting `signal`.
   */
  async *streamEvents(filters = {}) {
    const res = await this.http.send('GET', '/v1/events/stream', { query: eventQuery({ ...filters, limit: undefined }), headers: { accept: 'text/event-stream' }, timeoutMs: null, signal: filters.signal });
    for await (const msg of sseMessages(res)) yield JSON.parse(msg.data);
  }

  /** The local images, by reference. */
  async listImages() {
    return (await this.http.json('GET', '/v1/images')).items;
  }

  /** One local image by reference, digest or unique digest prefix. */
  async getImage(reference) {
    return this.http.json('GET', imagePath(reference));
  }

  /** Remove a local image (ConflictError while a sandbox uses it). */
  async deleteImage(reference) {
    return this.http.empty('DELETE', imagePath(reference));
  }

  /** Pull an image (options: insecure, username, password, onProgress(event)); resolves to the image. */
  async pullImage(ref, opts = {}) {
    if ((opts.username === undefined) !== (opts.password === undefined)) throw invalid('give both username and password, or neither');
    const json = { ref, insecure: opts.insecure || undefined, username: opts.username, password: opts.password };
    if (!opts.onProgress) return this.http.json('POST', '/v1/images/pull', { json, timeoutMs: 3_600_000 });
    const res = await this.http.send('POST', '/v1/images/pull', { json, headers: { accept: 'application/x-ndjson' }, timeoutMs: null });
    const dec = new NdjsonDecoder();
    for await (const text of textChunks(res)) {
      for (const line of dec.feed(text)) {
        if (line.event === 'error') throw errorFromBody(line.error?.code ?? 'internal', line.error?.message ?? 'pull failed');
        if (line.event === 'image') return line.image;
        opts.onProgress(line);
      }
    }
    throw new ProtocolError('protocol_error', 'the pull stream ended without a result');
  }

  /** The daemon's metrics in the Prometheus text format. */
  async prometheusMetrics() {
    return (await this.http.send('GET', '/v1/metrics')).text();
  }
}

function imagePath(reference) {
  if (typeof reference !== 'string' || !reference) throw invalid('image reference must be a non-empty string');
  return `/v1/images/${reference.split('/').map(encodeURIComponent).join('/').replace(/%3A/gi, ':').replace(/%40/g, '@')}`;
}
