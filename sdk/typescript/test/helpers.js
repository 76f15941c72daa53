// Shared set-up of the SDK's tests against a real daemon. Needs WARREN_URL, WARREN_API_KEY and
// WARREN_TEST_IMAGE (python3 + bash); WARREN_TEST_SMALL_IMAGE (busybox) for pull/delete.
// crates/warren/tests/sdk_e2e.rs starts a daemon and a registry and runs `node --test` with them.

import { after, before } from 'node:test';

import { Warren } from '../src/index.js';

for (const name of ['WARREN_URL', 'WARREN_API_KEY', 'WARREN_TEST_IMAGE']) {
  if (!process.env[name]) throw new Error(`${name} is not set (run through crates/warren/tests/sdk_e2e.rs)`);
}

export const image = process.env.WARREN_TEST_IMAGE;
export const smallImage = process.env.WARREN_TEST_SMALL_IMAGE;
export const client = new Warren();

/** One running sandbox for a test file, deleted after it: `const ctx = sharedSandbox()`, then `ctx.sb`. */
export function sharedSandbox() {
  const ctx = { sb: null };
  before(async () => {
    ctx.sb = await client.createSandbox({ image, cmd: ['sleep', 'infinity'], labels: { suite: 'ts-sdk' } });
  });
  after(async () => {
    if (ctx.sb) await ctx.sb[Symbol.asyncDispose]();
  });
  return ctx;
}

/** Poll `fn` until it returns a truthy value (at most `ms`). */
export async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
