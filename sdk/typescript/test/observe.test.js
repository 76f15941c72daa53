import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { client, eventually, image, sharedSandbox, smallImage } from './helpers.js';

const ctx = sharedSandbox();

test('ports and preview URLs', async () => {
  await client.withSandbox({ image, cmd: ['sleep', 'infinity'], publicPorts: [8001] }, async (sb) => {
    await sb.files.write('/srv/index.html', 'preview works');
    await sb.startProcess(['python3', '-m', 'http.server', '8000', '-d', '/srv'], { tag: 'web' });
    await sb.startProcess(['python3', '-m', 'http.server', '8001', '-d', '/srv'], { tag: 'web2' });
    const ports = await eventually(async () => {
      const p = await sb.ports();
      return p.length === 2 ? p : null;
    });
    assert.deepEqual(ports.map((p) => [p.port, p.public]), [[8000, false], [8001, true]]);
    assert.ok(ports[0].path_url.endsWith(`/v1/sandboxes/${sb.id}/ports/8000/`));
    const url = sb.previewUrl(8000);
    assert.match(url, /warren_token=/);
    const first = await fetch(url, { redirect: 'manual' });
    assert.equal(first.status, 302);
    assert.equal(await (await fetch(url.split('?')[0], { headers: { 'x-warren-token': sb.info.network.access_token } })).text(), 'preview works');
    assert.equal((await fetch(sb.previewUrl(8000, { withToken: false }))).status, 401);
    assert.equal(await (await fetch(sb.previewUrl(8001))).text(), 'preview works');
  });
});

test('metrics and prometheus', async () => {
  const m = await ctx.sb.metrics();
  assert.ok(m.current.memory_bytes > 0 && m.current.pids >= 1);
  assert.equal(m.current.memory_limit_bytes, 512 << 20);
  assert.ok(Array.isArray(m.history));
  const text = await client.prometheusMetrics();
  assert.ok(text.includes('warren_build_info') && text.includes('warren_sandboxes'));
});

test('events: list, sandbox events, live stream with replay', async () => {
  const newest = (await client.listEvents({ limit: 1 })).items;
  const ac = new AbortController();
  const got = [];
  let target = null; // the sandbox whose deletion ends the reader
  const reader = (async () => {
    for await (const ev of client.streamEvents({ action: 'sandbox.', after: newest.at(-1)?.seq ?? 0, signal: ac.signal })) {
      got.push(ev);
      if (ev.action === 'sandbox.deleted' && ev.sandbox_id === target) break;
    }
  })();
  const sb = await client.createSandbox({ image });
  target = sb.id;
  await sb.pause();
  await sb.delete();
  await reader;
  const mine = got.filter((e) => e.sandbox_id === sb.id);
  assert.deepEqual(mine.slice(0, 2).map((e) => e.action), ['sandbox.create', 'sandbox.started']);
  assert.ok(mine.some((e) => e.action === 'sandbox.pause'));
  assert.equal(mine.at(-1).action, 'sandbox.deleted');
  const page = await client.listEvents({ sandbox: sb.id });
  const actions = new Set(page.items.map((e) => e.action));
  assert.ok(actions.has('sandbox.create') && actions.has('sandbox.deleted'));
  const firstSeq = page.items[0].seq;
  const next = await client.listEvents({ sandbox: sb.id, after: firstSeq, limit: 1 });
  assert.equal(next.items.length, 1);
  assert.notEqual(next.next_cursor, null);
  const own = await ctx.sb.events();
  assert.ok(own.some((e) => e.action === 'sandbox.create') && own.every((e) => e.sandbox_id === ctx.sb.id));
});

test('images: list, get, pull with progress, delete', async () => {
  assert.equal((await client.health()).status, 'ok');
  const listed = await client.listImages();
  const mine = listed.find((i) => i.reference === image);
  assert.ok(mine);
  const got = await client.getImage(image);
  assert.equal(got.digest, mine.digest);
  assert.deepEqual(got.config.cmd, ['python3']);
  assert.equal((await client.getImage(got.digest.slice(0, 19))).reference, image);
  await assert.rejects(client.deleteImage(image), w.ConflictError);
  await assert.rejects(client.pullImage('127.0.0.1:1/nothing:here'), w.RegistryError);
  await assert.rejects(client.pullImage('127.0.0.1:1/nothing:here', { onProgress: () => {} }), w.RegistryError);
  if (!smallImage) return;
  const progress = [];
  const pulled = await client.pullImage(smallImage, { onProgress: (p) => progress.push(p.event) });
  assert.equal(pulled.reference, smallImage);
  assert.equal(progress[0], 'resolved');
  assert.equal(progress.at(-1), 'done');
  assert.equal((await client.pullImage(smallImage)).digest, pulled.digest);
  await client.deleteImage(smallImage);
  await assert.rejects(client.getImage(smallImage), w.ImageNotFoundError);
});
