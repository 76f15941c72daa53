import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { client, eventually, image, sharedSandbox } from './helpers.js';

const ctx = sharedSandbox();

test('create, get, list with filters, delete', async () => {
  const sb = await client.createSandbox({ image, cmd: ['sleep', 'infinity'], env: { GREETING: 'hello' }, cpu: 0.5, memoryMb: 256, labels: { suite: 'ts-sdk', case: 'crud' }, metadata: { note: 'ts' } });
  try {
    assert.match(sb.id, /^sb-/);
    assert.equal(sb.state, 'running');
    assert.equal(sb.info.memory_mb, 256);
    assert.equal((await sb.exec('echo $GREETING')).stdout, 'hello\n');
    assert.deepEqual((await client.getSandbox(sb.id)).info.metadata, { note: 'ts' });
    assert.deepEqual((await client.listSandboxes({ labels: { case: 'crud' } })).map((s) => s.id), [sb.id]);
    assert.ok((await client.listSandboxes({ state: 'running', image: sb.info.image })).some((s) => s.id === sb.id));
    assert.ok(!(await client.listSandboxes({ state: 'paused' })).some((s) => s.id === sb.id));
    assert.ok((await client.listSandboxes({ pageSize: 1 })).some((s) => s.id === sb.id));
  } finally {
    await client.deleteSandbox(sb.id);
  }
  await assert.rejects(sb.refresh(), w.SandboxNotFoundError);
});

test('withSandbox deletes, also when the callback throws', async () => {
  let id;
  await assert.rejects(
    client.withSandbox({ image }, async (sb) => {
      id = sb.id;
      assert.equal((await sb.refresh()).state, 'running');
      throw new Error('boom');
    }),
    /boom/,
  );
  await assert.rejects(client.getSandbox(id), w.SandboxNotFoundError);
});

test('update, lifecycle policy and network', async () => {
  const sb = ctx.sb;
  await sb.update({ labels: { suite: 'ts-sdk', tier: 'gold' }, metadata: { k: 'v' } });
  assert.deepEqual(sb.info.labels, { suite: 'ts-sdk', tier: 'gold' });
  await sb.setLifecycle({ idle_timeout_s: 3600, idle_action: 'hibernate', ttl_s: 7200 });
  const pol = (await sb.refresh()).info.lifecycle;
  assert.equal(pol.idle_timeout_s, 3600);
  assert.equal(pol.idle_action, 'hibernate');
  await sb.setLifecycle({ idle_timeout_s: 0, ttl_s: 0 });
  assert.equal(sb.info.lifecycle.idle_timeout_s ?? null, null);
  await assert.rejects(sb.setLifecycle({ idle_action: 'explode' }), w.InvalidRequestError);
  await assert.rejects(sb.update({}), w.InvalidRequestError);
  await sb.update({ network: { mode: 'restricted', allow: ['10.0.0.0/8'] } });
  assert.equal(sb.info.network.mode, 'restricted');
  await sb.update({ network: 'outbound' });
});

test('logs', async () => {
  await client.withSandbox({ image, cmd: ['sh', '-c', 'echo line-one; echo line-two; sleep infinity'], lifecycle: { ttl_s: 600 } }, async (sb) => {
    assert.equal(sb.info.lifecycle.ttl_s, 600);
    await eventually(async () => (await sb.logs()).includes('line-two'));
    assert.equal(await sb.logs(), 'line-one\nline-two\n');
    assert.equal(await sb.logs(1), 'line-two\n');
  });
});
