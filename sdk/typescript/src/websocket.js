// A minimal RFC 6455 WebSocket client on node:http / node:https and node:crypto.
//
// Why not the platform's WebSocket: Node 20 has none without a flag, and the WHATWG WebSocket
// (browsers, Node 22) cannot send an Authorization header, which the PTY route needs. This client
// does exactly what the terminal needs: the handshake with custom headers (a refused upgrade
// becomes the API's error), text and binary messages both ways (fragmented ones reassembled),
// ping/pong, and a clean close. No extensions (no compression).

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

import { WarrenConnectionError, errorFromResponse, ProtocolError } from './errors.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

/**
 * Open a WebSocket to a ws:// or wss:// URL with extra request headers.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @returns {Promise<WebSocketConnection>}
 */
export function connectWebSocket(url, headers = {}) {
  const u = new URL(url);
  const secure = u.protocol === 'wss:';
  const key = randomBytes(16).toString('base64');
  const expected = createHash('sha1').update(key + GUID).digest('base64');
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request({
      host: u.hostname,
      port: u.port || (secure ? 443 : 80),
      path: u.pathname + u.search,
      headers: {
        ...headers,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': key,
      },
    });
    req.on('upgrade', (res, socket, head) => {
      if (res.headers['sec-websocket-accept'] !== expected) {
        socket.destroy();
        reject(new ProtocolError('protocol_error', 'bad Sec-WebSocket-Accept in the upgrade answer'));
        return;
      }
      resolve(new WebSocketConnection(socket, head));
    });
    req.on('response', (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => reject(errorFromResponse(res.statusCode ?? 0, (h) => res.headers[h] ?? null, Buffer.concat(parts).toString('utf8'))));
    });
    req.on('error', (e) => reject(new WarrenConnectionError('connection_error', `cannot reach warren at ${u.host}: ${e.message}`, 0)));
    req.end();
  });
}

/** An open WebSocket: send text or bytes, receive messages in order with recv(). */
export class WebSocketConnection {
  constructor(socket, head) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.fragments = [];
    this.fragmentOp = 0;
    this.queue = [];
    this.waiters = [];
    this.closed = false;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
    if (head && head.length) this.onData(head);
  }

  /** Send a text (string) or binary (Uint8Array) message. */
  send(data) {
    if (this.closed) return;
    const text = typeof data === 'string';
    this.writeFrame(text ? OP.TEXT : OP.BINARY, text ? Buffer.from(data, 'utf8') : Buffer.from(data));
  }

  /**
   * The next message: `{type: 'text', data: string}` or `{type: 'binary', data: Uint8Array}`,
   * or null once the connection is closed. Rejects with a TimeoutError after timeoutMs.
   * @param {number} [timeoutMs]
   */
  recv(timeoutMs) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, timer: null };
      if (timeoutMs !== undefined && timeoutMs !== null) {
        waiter.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          const e = new Error(`no WebSocket message within ${timeoutMs} ms`);
          e.name = 'TimeoutError';
          reject(e);
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  /** Send a close frame and end the connection. */
  close() {
    if (!this.closed) {
      try {
        this.writeFrame(OP.CLOSE, Buffer.from([0x03, 0xe8]));
      } catch {
        // already gone
      }
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
    this.finish();
  }

  writeFrame(op, payload) {
    const len = payload.length;
    let header;
    if (len < 126) {
      header = Buffer.from([0x80 | op, 0x80 | len]);
    } else if (len < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | op;
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | op;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    const mask = randomBytes(4);
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  onData(data) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = (this.buf[0] & 0x80) !== 0;
      const op = this.buf[0] & 0x0f;
      const masked = (this.buf[1] & 0x80) !== 0;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      let payload = this.buf.subarray(off, off + len);
      if (masked) {
        const m = this.buf.subarray(maskOff, maskOff + 4);
        payload = Buffer.from(payload.map((b, i) => b ^ m[i & 3]));
      }
      this.buf = this.buf.subarray(off + len);
      this.onFrame(fin, op, Buffer.from(payload));
    }
  }

  onFrame(fin, op, payload) {
    if (op === OP.PING) {
      this.writeFrame(OP.PONG, payload);
      return;
    }
    if (op === OP.PONG) return;
    if (op === OP.CLOSE) {
      this.close();
      return;
    }
    if (op !== OP.CONT) this.fragmentOp = op;
    this.fragments.push(payload);
    if (!fin) return;
    const whole = Buffer.concat(this.fragments);
    this.fragments = [];
    const msg = this.fragmentOp === OP.TEXT ? { type: 'text', data: whole.toString('utf8') } : { type: 'binary', data: new Uint8Array(whole) };
    const w = this.waiters.shift();
    if (w) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(msg);
    } else {
      this.queue.push(msg);
    }
  }

  finish() {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(null);
    }
  }
}
