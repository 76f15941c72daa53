// The host: version, sandboxes by state, resources in use (from /v1/metrics), storage of images
// and snapshots, and the event log (live).
import { h, ago, bytes, errorBox } from './dom.js';
import { get, all, request } from './api.js';
import { subscribe } from './live.js';

/** Sum every sample of a Prometheus metric, by an optional label. */
function prom(text, name) {
  const out = { total: 0, by: {} };
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-z_]+)(\{([^}]*)\})?\s+([0-9.eE+-]+)$/);
    if (!m || m[1] !== name) continue;
    const v = Number(m[4]);
    out.total += v;
    const st = (m[3] || '').match(/state="([^"]+)"/);
    if (st) out.by[st[1]] = v;
    const ver = (m[3] || '').match(/version="([^"]+)"/);
    if (ver) out.version = ver[1];
  }
  return out;
}

export function render(main) {
  const err = errorBox();
  const stats = h('div', { class: 'stats', id: 'host-stats' });
  const states = h('dl', { class: 'kv' });
  const checks = h('div', { id: 'host-checks' }, h('p', { class: 'muted' }, 'Checking…'));
  const events = h('tbody', { id: 'host-events' });
  main.append(h('h1', {}, 'Host'), err, stats,
    h('div', { class: 'grid2', style: 'margin-top:16px' },
      h('div', { class: 'panel' }, h('h2', {}, 'Sandboxes by state'), states),
      h('div', { class: 'panel' }, h('h2', {}, 'Checks (warren doctor)'), checks)),
    h('div', { class: 'panel' }, h('h2', {}, 'Event log (live)'),
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Events' },
        h('thead', {}, h('tr', {}, ['When', 'Action', 'Sandbox', 'State', 'Actor', 'Result', 'Message'].map((c) => h('th', {}, c)))), events))));

  const stat = (label, value, sub) => h('div', {}, h('div', { class: 'muted' }, label), h('div', { class: 'stat' }, value), sub ? h('div', { class: 'hint' }, sub) : null);
  async function load() {
    try {
      const [host, metrics, images, snaps] = await Promise.all([
        get('/v1/host'),
        request('GET', '/v1/metrics').then((r) => r.text()),
        get('/v1/images'), all('/v1/snapshots')]);
      const sbs = prom(metrics, 'warren_sandboxes');
      const cpu = prom(metrics, 'warren_sandbox_cpu_percent');
      const mem = prom(metrics, 'warren_sandbox_memory_bytes');
      const disk = prom(metrics, 'warren_sandbox_disk_bytes');
      const pids = prom(metrics, 'warren_sandbox_pids');
      stats.replaceChildren(
        stat('warren', host.version, `Linux ${host.kernel}`),
        stat('Sandboxes', host.sandboxes, `${sbs.by.running || 0} running`),
        stat('CPU in use', `${(cpu.total / 100).toFixed(2)} of ${host.cpus}`, 'cores, by all sandboxes'),
        stat('Memory', `${bytes(host.memory_available_bytes)} free`, `of ${bytes(host.memory_total_bytes)}; sandboxes use ${bytes(mem.total)}, ${pids.total} processes`),
        stat('Disk', `${bytes(host.disk_available_bytes)} free`, `of ${bytes(host.disk_total_bytes)} (state dir); sandboxes wrote ${bytes(disk.total)}`),
        stat('Images', images.items.length, bytes(images.items.reduce((a, i) => a + i.size, 0))),
        stat('Snapshots', snaps.length, bytes(snaps.reduce((a, s) => a + s.fs_bytes + s.memory_bytes, 0))));
      checks.replaceChildren(
        h('p', {}, host.can_run_sandboxes ? 'This host can run sandboxes.' : h('strong', { class: 'error' }, 'A required check failed: sandboxes cannot run.')),
        h('table', { 'aria-label': 'Host checks' }, h('tbody', {}, host.checks.map((c) => h('tr', { 'data-check': c.name },
          h('td', {}, h('span', { class: `badge ${c.status === 'ok' ? 'state-running' : c.status === 'warn' ? 'state-paused' : 'state-error'}` }, c.status)),
          h('td', { class: 'mono' }, c.name, c.required ? '' : h('span', { class: 'hint' }, ' (optional)')),
          h('td', {}, c.detail, c.fix ? h('div', { class: 'hint' }, `Fix: ${c.fix}`) : null))))));
      states.replaceChildren(...Object.entries(sbs.by).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    } catch (e) { err.show(e); }
  }
  const row = (ev) => h('tr', {}, h('td', { title: ev.at }, ago(ev.at)), h('td', { class: 'mono' }, ev.action),
    h('td', {}, ev.sandbox_id ? h('a', { class: 'mono', href: `#/sandbox/${ev.sandbox_id}` }, ev.sandbox_id) : ''),
    h('td', {}, ev.from_state ? `${ev.from_state} → ${ev.to_state}` : ''), h('td', {}, ev.actor || ''),
    h('td', {}, h('span', { class: `badge ${ev.result === 'ok' ? 'state-running' : 'state-error'}` }, ev.result)), h('td', {}, ev.message || ''));
  get('/v1/events?limit=200').then((l) => events.replaceChildren(...l.items.reverse().map(row))).catch((e) => err.show(e));
  const unsubscribe = subscribe((ev) => { events.prepend(row(ev)); while (events.children.length > 500) events.lastChild.remove(); });
  load();
  const t = setInterval(load, 10000);
  return () => { unsubscribe(); clearInterval(t); };
}
