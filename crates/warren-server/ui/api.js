// The /v1 API through the session cookie. Every non-GET request carries X-Warren-Csrf: 1 (the
// daemon refuses cookie-authenticated writes without it). Errors become ApiError with the API's
// code and message; a 401 tells the app to show the sign-in page.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
/** Called with the error when a request comes back 401 (the session ended). */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function failure(res) {
  let code = 'http_' + res.status, message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch { /* not JSON */ }
  const e = new ApiError(res.status, code, message);
  if (res.status === 401) onUnauthorized(e);
  return e;
}

/** A raw request; returns the Response when it is 2xx, else throws ApiError. */
export async function request(method, path, { body, headers = {}, json, signal } = {}) {
  const h = { ...headers };
  if (method !== 'GET' && method !== 'HEAD') h['X-Warren-Csrf'] = '1';
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, body, headers: h, credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the daemon: ${e.message}`);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

/** A JSON request; resolves to the parsed body (or null for 204). */
export async function api(method, path, json) {
  const res = await request(method, path, { json });
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path) => api('GET', path);
export const post = (path, json = {}) => api('POST', path, json);
export const del = (path) => api('DELETE', path);

/** Every page of a paginated list (`items` + `next_cursor`). */
export async function all(path, limit = 500, first = null) {
  const items = [];
  let cursor = null;
  if (first) {
    items.push(...first.items);
    cursor = first.next_cursor;
    if (!cursor) return items;
  }
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** Read an NDJSON (or text) stream line by line. */
export async function lines(res, onLine) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  }
  if (buf.trim()) onLine(buf);
}

export const enc = encodeURIComponent;
