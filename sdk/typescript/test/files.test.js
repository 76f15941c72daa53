import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { sharedSandbox } from './helpers.js';

const ctx = sharedSandbox();

test('text, bytes, iterables, streams, user', async () => {
  const f = ctx.sb.files;
  await f.write('/tmp/t/hello.txt', 'héllo\n');
  assert.equal(await f.readText('/tmp/t/hello.txt'), 'héllo\n');
  const blob = new Uint8Array(1024).map((_, i) => i % 256);
  await f.write('/tmp/t/blob.bin', blob);
  assert.deepEqual(await f.readBytes('/tmp/t/blob.bin'), blob);
  await f.write('/tmp/t/iter.txt', [new TextEncoder().encode('a'), new TextEncoder().encode('bc')]);
  assert.equal(await f.readText('/tmp/t/iter.txt'), 'abc');
  await f.write('/tmp/t/web.txt', new Blob(['web stream']).stream());
  assert.equal((await ctx.sb.exec('cat /tmp/t/web.txt')).stdout, 'web stream');
  await f.write('/home/app/mine.txt', 'x', { user: 'app' });
  assert.equal((await f.stat('/home/app/mine.txt')).owner, 'app');
});

test('streaming upload and download', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-ts-'));
  const src = join(dir, 'big.bin');
  const data = randomBytes(8 << 20);
  writeFileSync(src, data);
  await ctx.sb.files.upload(src, '/tmp/big.bin');
  assert.equal((await ctx.sb.exec('stat -c %s /tmp/big.bin')).stdout.trim(), String(data.length));
  const dst = join(dir, 'back.bin');
  assert.equal(await ctx.sb.files.download('/tmp/big.bin', dst), data.length);
  assert.ok(readFileSync(dst).equals(data));
  let chunks = 0;
  for await (const c of await ctx.sb.files.readStream('/tmp/big.bin')) chunks += c.length > 0 ? 1 : 0;
  assert.ok(chunks > 1);
});

test('list, stat, mkdir, chmod, chown, move, remove', async () => {
  const f = ctx.sb.files;
  const d = await f.mkdir('/srv/app/logs', { mode: '0750' });
  assert.equal(d.type, 'dir');
  assert.equal(d.mode, '0750');
  await f.write('/srv/app/run.sh', '#!/bin/sh\necho run\n');
  await f.chmod('/srv/app/run.sh', 0o755);
  assert.equal((await ctx.sb.exec(['/srv/app/run.sh'])).stdout, 'run\n');
  const e = await f.stat('/srv/app/run.sh');
  assert.deepEqual([e.type, e.size, e.mode, e.name], ['file', 19, '0755', 'run.sh']);
  assert.deepEqual((await f.list('/srv/app')).map((x) => x.name), ['logs', 'run.sh']);
  assert.deepEqual((await f.list('/srv', { depth: 2 })).map((x) => x.path), ['/srv/app', '/srv/app/logs', '/srv/app/run.sh']);
  const c = await f.chown('/srv/app/logs', 'app', 'app');
  assert.deepEqual([c.owner, c.group], ['app', 'app']);
  assert.equal((await f.move('/srv/app/run.sh', '/srv/bin/run.sh')).path, '/srv/bin/run.sh');
  assert.equal(await f.exists('/srv/app/run.sh'), false);
  await assert.rejects(f.remove('/srv/app'), w.ConflictError);
  await f.remove('/srv/app', { recursive: true });
  await f.remove('/srv/bin/run.sh');
  assert.equal(await f.exists('/srv/app'), false);
  await assert.rejects(f.remove('/srv/app'), w.FileNotFoundError);
  await assert.rejects(f.list('/srv/nothing'), w.FileNotFoundError);
  await assert.rejects(f.chown('/srv', 'nobody-like-this'), w.InvalidRequestError);
});

test('tar round trip', async () => {
  await ctx.sb.exec('mkdir -p /opt/src/sub && echo A > /opt/src/a.txt && echo BB > /opt/src/sub/b.txt');
  const tar = await ctx.sb.files.readTar('/opt/src');
  await ctx.sb.files.writeTar('/opt/copy', tar);
  assert.equal(await ctx.sb.files.readText('/opt/copy/src/sub/b.txt'), 'BB\n');
});
