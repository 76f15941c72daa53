import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { ExecCollector, NdjsonDecoder, SseDecoder } from '../src/streams.js';
import { client, image, sharedSandbox } from './helpers.js';

const ctx = sharedSandbox();

test('unauthorized: wrong key and no key', async () => {
  const bad = new w.Warren({ url: client.url, apiKey: 'wrn_not_a_key' });
  await assert.rejects(bad.listSandboxes(), (e) => e instanceof w.UnauthorizedError && e.code === 'unauthorized' && e.status === 401);
  const anon = new w.Warren({ url: client.url, apiKey: null });
  assert.equal((await anon.health()).status, 'ok');
  await assert.rejects(anon.listImages(), w.UnauthorizedError);
});

test('configuration from the environment and connection errors', async () => {
  const saved = process.env.WARREN_URL;
  process.env.WARREN_URL = 'http://127.0.0.1:1/';
  try {
    const c = new w.Warren();
    assert.equal(c.url, 'http://127.0.0.1:1');
    await assert.rejects(c.health(), (e) => e instanceof w.WarrenConnectionError && e.code === 'connection_error');
  } finally {
    process.env.WARREN_URL = saved;
  }
  assert.throws(() => new w.Warren({ url: 'ftp://x' }), TypeError);
});

test('not found codes', async () => {
  await assert.rejects(client.getSandbox('sb-doesnotexist'), (e) => e instanceof w.SandboxNotFoundError && e instanceof w.NotFoundError && e.status === 404);
  await assert.rejects(client.getSnapshot('snap-doesnotexist'), w.SnapshotNotFoundError);
  await assert.rejects(client.getImage('nothing/here:never'), w.ImageNotFoundError);
  await assert.rejects(ctx.sb.files.readText('/no/such/file'), w.FileNotFoundError);
  await assert.rejects(ctx.sb.kill(999999), w.ProcessNotFoundError);
});

test('invalid requests, from the server and from the SDK', async () => {
  await assert.rejects(client.createSandbox({ image, cpu: 1000 }), (e) => e instanceof w.InvalidRequestError && e.apiMessage.includes('cpu'));
  await assert.rejects(ctx.sb.exec(['/no/such/program']), w.InvalidRequestError);
  await assert.rejects(client.listSandboxes({ state: 'sleepy' }), w.InvalidRequestError);
  await assert.rejects(client.createSandbox({}), w.InvalidRequestError);
  await assert.rejects(ctx.sb.exec([]), w.InvalidRequestError);
  await assert.rejects(ctx.sb.files.readText('relative'), w.InvalidRequestError);
  await assert.rejects(ctx.sb.branch(0), w.InvalidRequestError);
  await assert.rejects(ctx.sb.kill(1, 'HUP'), w.InvalidRequestError);
});

test('every code maps to its class', () => {
  for (const [code, Cls] of Object.entries(w.ERRORS_BY_CODE)) {
    const e = w.errorFromResponse(418, () => '2', JSON.stringify({ error: { code, message: 'm' } }));
    assert.equal(e.constructor, Cls);
    assert.equal(e.code, code);
  }
  const limited = w.errorFromResponse(429, () => '3', '{"error":{"code":"rate_limited","message":"slow"}}');
  assert.equal(limited.retryAfter, 3);
  assert.ok(w.errorFromResponse(502, () => null, '<html>') instanceof w.ProtocolError);
  assert.equal(w.errorFromResponse(400, () => null, '{"error":{"code":"brand_new","message":"x"}}').constructor, w.WarrenError);
});

test('decoders', () => {
  const dec = new SseDecoder();
  const s = ': keep\n\nevent: start\ndata: {"pid":7}\n\nevent: stdout\r\ndata: {"b64":"/w=="}\n\nid: 9\ndata: x\ndata: y\n\n';
  const msgs = [];
  for (const ch of s) msgs.push(...dec.feed(ch));
  assert.deepEqual(msgs.map((m) => [m.event, m.data]), [['start', '{"pid":7}'], ['stdout', '{"b64":"/w=="}'], ['message', 'x\ny']]);
  const c = new ExecCollector();
  c.handle(msgs[0]);
  c.handle(msgs[1]);
  assert.equal(c.pid, 7);
  assert.equal(c.out[0], '\ufffd');
  assert.throws(() => c.result(), w.ProtocolError);
  assert.throws(() => new ExecCollector().handle({ event: 'error', data: '{"error":{"code":"agent_error","message":"x"}}' }), w.AgentError);
  const nd = new NdjsonDecoder();
  assert.deepEqual(nd.feed('{"a":1}\n{"b"'), [{ a: 1 }]);
  assert.deepEqual(nd.feed(':2}\n'), [{ b: 2 }]);
});
