// Dashboard performance in headless Chromium (run by `cargo bench -p warren --bench dashboard`,
// which starts the daemon and the fleet of sandboxes). Prints one JSON line `FIGURES {...}`:
//
// - render_ms: navigation start → the sandboxes table painted with every sandbox (data-loaded
//   set, then two animation frames), over WARREN_BENCH_RUNS page loads (the first cold);
// - transfer: bytes on the wire (compressed, headers included) for a cold first load of the
//   dashboard (shell + sandboxes table) and then a sandbox's terminal (xterm.js), split into
//   the UI's files and the API's data;
// - change_ms: a state change (pause/resume of WARREN_BENCH_TARGET through the API) → its new
//   state shown in the open table, measured from the API call's answer and from its start.
import { createRequire } from 'node:module';

const env = process.env;
const url = env.WARREN_URL, key = env.WARREN_KEY, target = env.WARREN_BENCH_TARGET;
const runs = Number(env.WARREN_BENCH_RUNS || 10), changes = Number(env.WARREN_BENCH_CHANGES || 20);
const expect = Number(env.WARREN_BENCH_EXPECT || 0);
const require = createRequire(`${env.WARREN_NODE_MODULES}/`);
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
const signin = await context.request.post(`${url}/ui/session`, { headers: { 'X-Warren-Csrf': '1' }, data: { key } });
if (!signin.ok()) throw new Error(`sign-in: ${signin.status()}`);
await context.addInitScript(() => {
  new MutationObserver((_, obs) => {
    const main = document.getElementById('main');
    if (main && main.dataset.loaded === 'true' && !window.__rendered) {
      window.__rendered = -1;
      requestAnimationFrame(() => requestAnimationFrame(() => { window.__rendered = performance.now(); }));
      obs.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-loaded'] });
});

// 1. Transfer of a cold first load, then the terminal.
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
const urls = new Map();
const bytes = { ui: 0, api: 0, requests: 0 };
cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
cdp.on('Network.loadingFinished', (e) => {
  const u = urls.get(e.requestId) || '';
  bytes.requests++;
  if (u.includes('/v1/')) bytes.api += e.encodedDataLength; else bytes.ui += e.encodedDataLength;
});
await page.goto(`${url}/`);
await page.waitForFunction(() => window.__rendered > 0, null, { timeout: 60000 });
const rows = await page.locator('#sb-rows tr').count();
const total = Number((await page.locator('#page-info').textContent()).split(' of ')[1] || rows);
if (expect && total !== expect) throw new Error(`table counts ${total} sandboxes, expected ${expect}`);
await page.waitForTimeout(300);
const firstLoad = { ...bytes };
await page.goto(`${url}/ui/#/sandbox/${target}/terminal`);
await page.locator('.xterm').waitFor();
await page.waitForTimeout(500);
const withTerminal = { ...bytes };
await cdp.detach();
await page.close();

// 2. Render time of the table with every sandbox.
const render = [], dataAt = [], paint = [], apiMs = [];
for (let i = 0; i < runs; i++) {
  const p = await context.newPage();
  await p.goto(`${url}/ui/#/sandboxes`);
  render.push(await (await p.waitForFunction(() => window.__rendered > 0 && window.__rendered, null, { timeout: 60000 })).jsonValue());
  const t = await p.evaluate(() => ({ ...window.__warrenTable, ...JSON.parse(JSON.stringify(performance.getEntriesByType('resource').find((r) => r.name.includes('/v1/sandboxes')) || {})) }));
  dataAt.push(t.dataAt); paint.push(t.paintMs); apiMs.push(t.responseEnd - t.requestStart);
  await p.close();
}

// 3. State change → visible in the table.
const table = await context.newPage();
await table.goto(`${url}/ui/#/sandboxes`);
await table.waitForFunction(() => window.__rendered > 0, null, { timeout: 60000 });
await table.evaluate((id) => {
  window.__changes = [];
  let last = null;
  const tbody = document.getElementById('sb-rows');
  new MutationObserver(() => {
    const s = tbody.querySelector(`tr[data-id="${id}"] [data-state]`)?.dataset.state;
    if (s && s !== last) { last = s; window.__changes.push({ state: s, t: Date.now() }); }
  }).observe(tbody, { childList: true, subtree: true });
}, target);
const afterAnswer = [], fromStart = [];
for (let i = 0; i < changes; i++) {
  const op = i % 2 === 0 ? 'pause' : 'resume';
  const want = op === 'pause' ? 'paused' : 'running';
  const t0 = Date.now();
  const r = await fetch(`${url}/v1/sandboxes/${target}/${op}`, { method: 'POST', headers: { Authorization: `Bearer ${key}` } });
  const t1 = Date.now();
  if (!r.ok) throw new Error(`${op}: ${r.status} ${await r.text()}`);
  const seen = await (await table.waitForFunction((w) => window.__changes.find((c) => c.state === w && !c.used), want, { timeout: 10000, polling: 5 })).jsonValue();
  await table.evaluate((t) => { window.__changes.find((c) => c.t === t).used = true; }, seen.t);
  afterAnswer.push(Math.max(0, seen.t - t1));
  fromStart.push(seen.t - t0);
}
await browser.close();
console.log(`FIGURES ${JSON.stringify({ rows, render_ms: render, data_at_ms: dataAt, paint_ms: paint, api_list_ms: apiMs, transfer: { first_load: firstLoad, with_terminal: withTerminal }, change_after_answer_ms: afterAnswer, change_from_call_ms: fromStart })}`);
