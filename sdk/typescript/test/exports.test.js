// The declarations (src/index.d.ts) and the module agree on what is exported (no daemon needed;
// test/types-check.ts, compiled by sdk_e2e.rs, checks the shapes).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as sdk from '../src/index.js';

test('every declared value is exported, and every export is declared', () => {
  const dts = readFileSync(new URL('../src/index.d.ts', import.meta.url), 'utf8');
  const declared = [...dts.matchAll(/^export declare (?:class|const|function) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(sdk).sort(), declared);
});

test('error classes form the documented hierarchy', () => {
  for (const [code, Cls] of Object.entries(sdk.ERRORS_BY_CODE)) {
    const e = new Cls(code, 'm', 400);
    assert.ok(e instanceof sdk.WarrenError && e instanceof Error);
    assert.equal(e.name, Cls.name);
    assert.equal(code.endsWith('not_found'), e instanceof sdk.NotFoundError);
  }
});
