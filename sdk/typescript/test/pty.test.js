import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as w from '../src/index.js';
import { Sandbox } from '../src/index.js';
import { client, sharedSandbox } from './helpers.js';

const ctx = sharedSandbox();

test('interactive shell: size, resize, exit code', async () => {
  const t = await ctx.sb.pty({ cols: 100, rows: 30 });
  try {
    t.write('stty size; tty\n');
    const out = await t.readUntil('/dev/pts/');
    assert.ok(out.includes('30 100'));
    t.resize(120, 40);
    t.write('stty size\n');
    await t.readUntil('40 120');
    t.write('exit 7\n');
    assert.equal(await t.wait(), 7);
    assert.equal((await t.read()).length, 0);
  } finally {
    t.close();
  }
});

test('command, user and cwd; big output', async () => {
  const t = await ctx.sb.pty({ cmd: 'id -un; pwd; head -c 200000 /dev/zero | tr "\\0" x; echo; echo END', user: 'app', cwd: '/tmp' });
  const out = await t.readUntil('END');
  assert.ok(out.includes('app') && out.includes('/tmp'));
  assert.ok(out.split('x').length > 200000);
  assert.equal(await t.wait(), 0);
  t.close();
});

test('pty errors before the upgrade are API errors', async () => {
  await assert.rejects(ctx.sb.pty({ cols: 0 }), w.InvalidRequestError);
  await assert.rejects(new Sandbox(ctx.sb.http, { ...ctx.sb.info, id: 'sb-doesnotexist' }).pty(), w.SandboxNotFoundError);
  const bad = new w.Warren({ url: client.url, apiKey: 'wrn_wrong' });
  await assert.rejects(new Sandbox(bad.http, ctx.sb.info).pty(), w.UnauthorizedError);
});
