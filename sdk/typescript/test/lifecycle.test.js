import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { client, image } from './helpers.js';

test('pause, resume, hibernate, stop, start', async () => {
  await client.withSandbox({ image, cmd: ['sleep', 'infinity'] }, async (sb) => {
    await sb.exec('echo kept > /root/state');
    const p = await sb.startProcess(['sleep', '600'], { tag: 'survivor' });
    assert.equal((await sb.pause()).state, 'paused');
    await assert.rejects(sb.exec('true'), (e) => e instanceof w.ConflictError && e.status === 409);
    assert.equal((await sb.resume()).state, 'running');
    assert.equal((await sb.hibernate()).state, 'hibernated');
    assert.equal((await sb.lifecycle('resume')).state, 'running');
    assert.ok((await sb.processes()).some((q) => q.pid === p.pid), 'the process survived hibernation');
    assert.equal((await sb.stop()).state, 'stopped');
    await assert.rejects(sb.pause(), w.ConflictError);
    assert.equal((await sb.archive()).state, 'archived');
    await assert.rejects(sb.archive(), w.ConflictError);
    assert.equal((await sb.start()).state, 'running');
    assert.equal(await sb.files.readText('/root/state'), 'kept\n');
  });
});

test('snapshot, create from it, list, delete', async () => {
  let snap;
  await client.withSandbox({ image, cmd: ['sleep', 'infinity'] }, async (sb) => {
    await sb.files.write('/data/seed.txt', 'seeded');
    snap = await sb.snapshot({ name: 'sdk-ts-files', labels: { k: 'v' } });
    assert.equal(snap.state, 'ready');
    assert.equal(snap.memory, false);
    assert.equal((await client.getSnapshot('sdk-ts-files')).id, snap.id);
    assert.ok((await client.listSnapshots({ sandbox: sb.id })).some((s) => s.id === snap.id));
    await client.withSandbox({ snapshot: snap.id }, async (child) => {
      assert.equal(child.info.parent_snapshot, snap.id);
      assert.equal(await child.files.readText('/data/seed.txt'), 'seeded');
      await assert.rejects(client.deleteSnapshot(snap.id), w.ConflictError);
    });
    await assert.rejects(sb.snapshot({ name: 'snap-reserved' }), w.InvalidRequestError);
  });
  await client.deleteSnapshot(snap.id);
  await assert.rejects(client.getSnapshot(snap.id), w.SnapshotNotFoundError);
  await assert.rejects(client.createSandbox({ snapshot: 'no-such-snapshot' }), w.SnapshotNotFoundError);
});

test('branch: copies continue from the same instant', async () => {
  await client.withSandbox({ image, cmd: ['sleep', 'infinity'], labels: { case: 'ts-branch' } }, async (sb) => {
    await sb.startProcess(['sleep', '600'], { tag: 'holder' });
    const br = await sb.branch(2);
    try {
      assert.equal(br.snapshot.memory, true);
      assert.equal(new Set(br.sandboxes.map((b) => b.id)).size, 2);
      for (const b of br.sandboxes) {
        assert.equal(b.state, 'running');
        assert.equal(b.info.labels.case, 'ts-branch');
        assert.ok((await b.processes()).some((p) => p.tag === 'holder'));
        assert.equal((await b.exec('hostname')).stdout.trim(), b.id);
      }
    } finally {
      for (const b of br.sandboxes) await b.delete();
      await client.deleteSnapshot(br.snapshot.id);
    }
  });
});
