// End-to-end test of the web dashboard in real headless Chromium (Debian's), driven by
// playwright-core. Run by crates/warren/tests/dashboard_e2e.rs against a real daemon:
//
//   WARREN_URL=http://127.0.0.1:PORT WARREN_KEY=... WARREN_IMAGE=127.0.0.1:5000/busybox:latest \
//   WARREN_NODE_MODULES=tests/clients/node_modules WARREN_SHOTS=target/dashboard-e2e node tests/dashboard/e2e.mjs
//
// Every step asserts what a user would see; a failure exits non-zero with the step's name and a
// screenshot of the page at that moment.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

const { WARREN_URL: url, WARREN_KEY: key, WARREN_IMAGE: image, WARREN_NODE_MODULES: modules, WARREN_SHOTS: shots } = process.env;
for (const [k, v] of Object.entries({ WARREN_URL: url, WARREN_KEY: key, WARREN_IMAGE: image, WARREN_NODE_MODULES: modules, WARREN_SHOTS: shots })) {
  if (!v) { console.error(`${k} is not set`); process.exit(2); }
}
const require = createRequire(`${modules}/`);
const { chromium } = require('playwright-core');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 }, colorScheme: 'light' });
const page = await context.newPage();
page.setDefaultTimeout(20000);
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

let stepName = '';
const t0 = Date.now();
async function step(name, fn) {
  stepName = name;
  const s = Date.now();
  await fn();
  console.log(`ok  ${name} (${Date.now() - s} ms)`);
}
const shot = (name, p = page) => p.screenshot({ path: `${shots}/${name}.png` });
const terminalHas = (p, line) => p.waitForFunction((l) => [...document.querySelectorAll('.xterm-rows > div')]
  .some((r) => r.textContent.replace(/\u00a0/g, ' ').trim() === l), line, { timeout: 20000 });
async function openTerminal(id) {
  await page.goto(`${url}/ui/#/sandbox/${id}/terminal`);
  await page.locator('#term-status', { hasText: 'connected' }).waitFor();
  await page.locator('.xterm').click();
}

let id;
try {
  await step('/ redirects to the sign-in page', async () => {
    await page.goto(`${url}/`);
    assert.match(page.url(), /\/ui\/$/);
    await page.locator('#api-key').waitFor();
    await shot('signin');
  });

  await step('a wrong key is refused where it was typed', async () => {
    await page.fill('#api-key', 'wrn_not_a_key');
    await page.click('button[type=submit]');
    await page.locator('form .error', { hasText: 'invalid, expired or revoked API key' }).waitFor();
  });

  await step('sign in', async () => {
    await page.fill('#api-key', key);
    await page.click('button[type=submit]');
    await page.locator('#nav').waitFor();
    await page.locator('main[data-loaded=true]').waitFor();
    await page.locator('.empty', { hasText: 'No sandboxes yet' }).waitFor();
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'warren_session');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the cookie is invisible to scripts');
  });

  await step('bad input in the create form shows the API\'s message', async () => {
    await page.click('text=+ New sandbox');
    await page.locator('#image').waitFor();
    await page.fill('#image', image);
    await page.fill('#memory_mb', '1');
    await page.click('button:has-text("Create sandbox")');
    const err = page.locator('form .error');
    await err.waitFor();
    const text = await err.textContent();
    assert.match(text, /memory_mb/, `error names the field: ${text}`);
    await shot('create-error');
  });

  await step('create a sandbox from the form', async () => {
    await page.fill('#memory_mb', '128');
    await page.fill('#labels', 'team=ui\nsuite=dashboard');
    await page.click('button:has-text("Create sandbox")');
    await page.waitForURL(/#\/sandbox\/sb-/);
    id = page.url().split('#/sandbox/')[1].split('/')[0];
    await page.locator('#sb-state [data-state=running]').waitFor();
    await page.locator('#overview-kv', { hasText: 'team=ui' }).waitFor();
    await page.waitForTimeout(300);
    await shot('sandbox-overview');
  });

  await step('cookie-authenticated writes without the CSRF header are refused', async () => {
    const r = await page.evaluate(async (sid) => {
      const res = await fetch(`/v1/sandboxes/${sid}/pause`, { method: 'POST' });
      return { status: res.status, body: await res.json() };
    }, id);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'forbidden');
  });

  await step('terminal: echo hello', async () => {
    await openTerminal(id);
    await page.keyboard.type('echo hello\n');
    await terminalHas(page, 'hello');
    await shot('terminal');
  });

  await step('files: upload by drag-and-drop and with the picker, view and edit', async () => {
    await page.click('#tab-files');
    await page.locator('a', { hasText: 'tmp/' }).first().click();
    await page.locator('nav[aria-label="Current directory"] a', { hasText: 'tmp' }).waitFor();
    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['dropped into the dashboard\n'], 'dropped.txt', { type: 'text/plain' }));
      return d;
    });
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
    await page.locator('tr[data-path="/tmp/dropped.txt"]').waitFor();
    await page.setInputFiles('#upload-input', { name: 'picked.txt', mimeType: 'text/plain', buffer: Buffer.from('picked\n') });
    await page.locator('tr[data-path="/tmp/picked.txt"]').waitFor();
    await page.locator('tr[data-path="/tmp/picked.txt"] a.mono').click();
    const editor = page.locator('#file-editor');
    await editor.waitFor();
    assert.equal(await editor.inputValue(), 'picked\n');
    await editor.fill('picked and edited\n');
    await page.click('button:has-text("Save")');
    await page.locator('.toast', { hasText: 'Saved /tmp/picked.txt' }).waitFor();
    const dl = await page.locator('tr[data-path="/tmp/dropped.txt"] a', { hasText: 'Download' }).getAttribute('href');
    const body = await page.evaluate(async (href) => (await fetch(href)).text(), dl);
    assert.equal(body, 'dropped into the dashboard\n');
    await shot('files');
  });

  await step('terminal: cat the uploaded files', async () => {
    await openTerminal(id);
    await page.keyboard.type('cat /tmp/dropped.txt /tmp/picked.txt\n');
    await terminalHas(page, 'dropped into the dashboard');
    await terminalHas(page, 'picked and edited');
  });

  await step('pause and resume: the page and the live table follow without reloading', async () => {
    const table = await context.newPage();
    await table.goto(`${url}/ui/#/sandboxes`);
    await table.locator('main[data-loaded=true]').waitFor();
    const row = table.locator(`tr[data-id="${id}"] [data-state]`);
    assert.equal(await row.getAttribute('data-state'), 'running');
    await page.click('#tab-overview');
    await page.click('[data-action=pause]');
    await page.locator('#sb-state [data-state=paused]').waitFor();
    await table.locator(`tr[data-id="${id}"] [data-state=paused]`).waitFor({ timeout: 5000 });
    await shot('sandboxes-paused', table);
    await page.click('[data-action=resume]');
    await page.locator('#sb-state [data-state=running]').waitFor();
    await table.locator(`tr[data-id="${id}"] [data-state=running]`).waitFor({ timeout: 5000 });
    await table.close();
  });

  await step('snapshot, branch ×3, and the lineage tree', async () => {
    await page.click('[data-action=snapshot]');
    await page.fill('#snap-name', 'ui-base');
    await page.click('dialog button:has-text("Take snapshot")');
    await page.locator('.toast', { hasText: 'Snapshot ui-base taken' }).waitFor({ timeout: 60000 });
    await page.click('[data-action=branch]');
    await page.fill('#branch-count', '3');
    await page.click('dialog button:has-text("Branch")');
    await page.locator('.toast', { hasText: 'Branched into' }).waitFor({ timeout: 90000 });
    await page.click('nav a[data-nav=snapshots]');
    await page.locator('main[data-loaded=true] #lineage').waitFor();
    // The source sandbox is a root; under it the named snapshot and the branch snapshot; under
    // the branch snapshot its three sandboxes.
    const root = page.locator(`#lineage > ul > li:has(> button[data-node="${id}"])`);
    await root.waitFor();
    await root.locator('button.node.snap', { hasText: 'ui-base' }).waitFor();
    await page.waitForFunction((sid) => {
      const li = [...document.querySelectorAll('#lineage > ul > li')].find((l) => l.querySelector(':scope > button').dataset.node === sid);
      return li && [...li.querySelectorAll(':scope > ul > li')].some((snap) => snap.querySelectorAll(':scope > ul > li > button[data-node^="sb-"]').length === 3);
    }, id);
    await shot('snapshots');
  });

  await step('create a sandbox from a node of the tree', async () => {
    await page.locator('button.node.snap', { hasText: 'ui-base' }).click();
    await page.click('button:has-text("Create sandbox from here")');
    await page.locator('.toast', { hasText: 'from ui-base' }).waitFor({ timeout: 60000 });
    await page.waitForFunction(() => {
      const snap = [...document.querySelectorAll('#lineage button.node.snap')].find((b) => b.textContent.includes('ui-base'));
      return snap && snap.parentElement.querySelectorAll(':scope > ul > li > button[data-node^="sb-"]').length === 1;
    });
    await shot('snapshots-from-node');
  });

  await step('the other pages render', async () => {
    for (const p of ['images', 'keys', 'host']) {
      await page.click(`nav a[data-nav=${p}]`);
      await page.locator('h1', { hasText: p === 'keys' ? 'API keys' : p[0].toUpperCase() + p.slice(1) }).waitFor();
      if (p === 'host') {
        // The doctor's checks, from GET /v1/host: runc is there on any host that runs this test.
        await page.locator('#host-checks tr[data-check=runc] .badge', { hasText: 'ok' }).waitFor();
      }
      await page.waitForTimeout(400);
      await shot(p);
    }
    await page.locator('#image-rows, #host-stats').first().waitFor({ state: 'attached' });
    await page.click('nav a[data-nav=sandboxes]');
    await page.locator('main[data-loaded=true]').waitFor();
    await page.locator(`tr[data-id="${id}"]`).waitFor();
    assert.equal(await page.locator('#sb-rows tr').count(), 5, 'source, 3 branches, 1 from the tree');
    await shot('sandboxes');
    await page.click('#theme');
    await page.waitForTimeout(100);
    await shot('sandboxes-dark');
    await page.click('#theme');
  });

  await step('a read-only key made on the keys page gives a read-only dashboard', async () => {
    await page.click('nav a[data-nav=keys]');
    await page.fill('#key-name', 'viewer');
    await page.selectOption('#key-scope', 'read');
    await page.click('button:has-text("Create key")');
    const secret = (await page.locator('#new-key').textContent()).trim();
    assert.ok(secret.length > 20, 'the new key is shown once');
    await page.locator('#key-rows tr', { hasText: 'viewer' }).waitFor();
    await shot('keys');
    const ro = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const p2 = await ro.newPage();
    await p2.goto(`${url}/ui/`);
    await p2.fill('#api-key', secret);
    await p2.click('button[type=submit]');
    await p2.locator('main[data-loaded=true]').waitFor();
    await p2.locator('#who', { hasText: 'read-only' }).waitFor();
    assert.equal(await p2.locator('a:has-text("+ New sandbox")').isVisible(), false, 'no create button');
    assert.equal(await p2.locator(`tr[data-id="${id}"] input[type=checkbox]`).isVisible(), false, 'no bulk selection');
    const r = await p2.evaluate(async (sid) => (await fetch(`/v1/sandboxes/${sid}/pause`, { method: 'POST', headers: { 'X-Warren-Csrf': '1' } })).status, id);
    assert.equal(r, 403, 'the API refuses a read-only session\'s write');
    await ro.close();
  });

  await step('sign-out blocks pages and the API', async () => {
    await page.click('#signout');
    await page.locator('#api-key').waitFor();
    await page.goto(`${url}/ui/#/sandbox/${id}`);
    await page.locator('#api-key').waitFor();
    assert.equal(await page.locator('#nav').isVisible(), false);
    const status = await page.evaluate(async () => (await fetch('/v1/sandboxes')).status);
    assert.equal(status, 401);
  });

  const unexpected = consoleErrors.filter((e) => !/status of 40[13]|Failed to load resource/.test(e));
  assert.deepEqual(unexpected, [], 'no script errors in the console');
  console.log(`RESULT ${JSON.stringify({ sandbox: id, seconds: (Date.now() - t0) / 1000 })}`);
} catch (e) {
  console.error(`FAILED at step "${stepName}": ${e.stack || e}`);
  console.error('console errors:', consoleErrors);
  try { await shot('FAILED'); } catch { /* page gone */ }
  await browser.close();
  process.exit(1);
}
await browser.close();
