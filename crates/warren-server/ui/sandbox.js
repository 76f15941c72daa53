// One sandbox: header with its live state and actions, and tabs — overview (with CPU and
// memory charts), terminal, files, processes, logs, events, ports.
import { h, ago, dur, bytes, badge, toast, confirmDialog, errorBox, labelsText } from './dom.js';
import { get, post, del, request, lines, enc } from './api.js';
import { subscribe } from './live.js';
import { lineChart } from './charts.js';

const TABS = ['overview', 'terminal', 'files', 'processes', 'logs', 'events', 'ports'];
const LIVE = ['running', 'paused'];

// Each action: states it applies to, and a confirmation when it loses something.
const ACTIONS = [
  ['pause', 'Pause', ['running']],
  ['resume', 'Resume', ['paused', 'hibernated']],
  ['hibernate', 'Hibernate', LIVE],
  ['snapshot', 'Snapshot…', LIVE],
  ['branch', 'Branch…', LIVE],
  ['start', 'Start', ['stopped', 'archived']],
  ['stop', 'Stop', ['running', 'paused', 'hibernated'], 'Stopping ends every process in it; its files stay. Unsaved state in memory is lost.'],
  ['archive', 'Archive', ['stopped', 'hibernated']],
  ['delete', 'Delete', null, 'Deleting removes the sandbox and all its files. This cannot be undone.'],
];

export function render(main, { segs }, ctx) {
  const id = segs[0];
  const tab = TABS.includes(segs[1]) ? segs[1] : 'overview';
  const base = `/v1/sandboxes/${enc(id)}`;
  const err = errorBox();
  const stateBadge = h('span', { id: 'sb-state' });
  const actions = h('div', { class: 'row', role: 'toolbar', 'aria-label': 'Sandbox actions', 'data-write': true });
  const body = h('div', { id: 'tab-body' });
  const cleanups = [];
  let sb = null;

  main.append(
    h('h1', {}, h('a', { href: '#/sandboxes', 'aria-label': 'Back to sandboxes' }, '←'), h('span', { class: 'mono' }, id), stateBadge,
      h('span', { class: 'spacer' }), actions),
    err,
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Sandbox views' },
      TABS.map((t) => h('a', { role: 'tab', href: `#/sandbox/${enc(id)}/${t}`, 'aria-selected': String(t === tab), id: `tab-${t}` }, t[0].toUpperCase() + t.slice(1)))),
    body);

  function paintHeader() {
    stateBadge.replaceChildren(badge(sb.state));
    actions.replaceChildren(...ACTIONS.map(([op, label, ok, warn]) => h('button', {
      type: 'button', 'data-action': op, class: op === 'delete' || op === 'stop' ? 'danger' : '',
      disabled: ok && !ok.includes(sb.state), onclick: () => act(op, label, warn),
    }, label)));
    if (tab === 'overview') paintOverview();
  }

  async function act(op, label, warn) {
    err.show(null);
    if (warn && !(await confirmDialog(`${label} ${id}?`, warn, label))) return;
    try {
      if (op === 'delete') {
        await del(base);
        toast(`Deleted ${id}`);
        ctx.go('#/sandboxes');
        return;
      }
      if (op === 'snapshot') return snapshotDialog();
      if (op === 'branch') return branchDialog();
      const r = await post(`${base}/${op}`);
      if (r && r.id === id) { sb = r; paintHeader(); }
      toast(`${label}: done`);
    } catch (e) { err.show(e); }
  }

  function formDialog(title, fields, submitLabel, run) {
    const derr = errorBox();
    const ok = h('button', { class: 'primary', type: 'submit' }, submitLabel);
    const form = h('form', {}, h('h2', {}, title), fields, derr,
      h('div', { class: 'row', style: 'margin-top:12px' }, h('span', { class: 'spacer' }),
        h('button', { type: 'button', onclick: () => d.close() }, 'Cancel'), ok));
    const d = h('dialog', { 'aria-label': title }, form);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      ok.disabled = true;
      derr.show(null);
      try { await run(); d.close(); } catch (e2) { derr.show(e2); } finally { ok.disabled = false; }
    });
    d.addEventListener('close', () => d.remove());
    document.body.append(d);
    d.showModal();
    return d;
  }

  function snapshotDialog() {
    const name = h('input', { id: 'snap-name', type: 'text', placeholder: 'optional, e.g. before-upgrade' });
    const memory = h('input', { id: 'snap-memory', type: 'checkbox', checked: true });
    formDialog(`Snapshot ${id}`, [
      h('label', { for: 'snap-name' }, 'Name', name),
      h('label', { class: 'inline', style: 'margin-top:8px' }, memory, 'Include memory (processes continue when restored)'),
    ], 'Take snapshot', async () => {
      const snap = await post(`${base}/snapshot`, { memory: memory.checked, name: name.value.trim() || undefined });
      toast(`Snapshot ${snap.name || snap.id} taken (frozen ${snap.paused_ms.toFixed(0)} ms)`);
    });
  }

  function branchDialog() {
    const count = h('input', { id: 'branch-count', type: 'number', value: '3', min: '1', max: '32', inputmode: 'numeric' });
    formDialog(`Branch ${id}`, [
      h('p', { class: 'muted' }, 'Takes a memory snapshot and starts copies that each continue from this instant.'),
      h('label', { for: 'branch-count' }, 'How many copies', count),
    ], 'Branch', async () => {
      const r = await post(`${base}/branch`, { count: Number(count.value) });
      toast(`Branched into ${r.sandboxes.map((s) => s.id).join(', ')}`);
    });
  }

  // ---- overview ----
  const charts = { cpu: h('canvas', { class: 'chart', 'aria-label': 'CPU use, last 10 minutes' }), mem: h('canvas', { class: 'chart', 'aria-label': 'Memory use, last 10 minutes' }) };
  const metricsNote = h('p', { class: 'muted' });
  function paintOverview() {
    const lc = sb.lifecycle || {};
    const idleLeft = lc.idle_timeout_s && sb.last_active_at && sb.state === 'running'
      ? Math.max(0, lc.idle_timeout_s - (Date.now() - Date.parse(sb.last_active_at)) / 1000) : null;
    const kv = (k, v) => [h('dt', {}, k), h('dd', {}, v ?? '—')];
    const net = sb.network || {};
    body.querySelector('#overview-kv')?.replaceChildren(
      ...kv('State', badge(sb.state)), ...(sb.error ? kv('Error', sb.error) : []),
      ...kv('Image', h('span', { class: 'mono' }, sb.image)), ...kv('Digest', h('span', { class: 'mono' }, sb.image_digest.slice(0, 19) + '…')),
      ...(sb.parent_snapshot ? kv('From snapshot', h('a', { href: `#/snapshots?focus=${enc(sb.parent_snapshot)}` }, sb.parent_snapshot)) : []),
      ...kv('Resources', `${sb.cpu} CPU · ${sb.memory_mb} MiB · ${sb.pids_limit} pids · disk ${sb.disk_mb ? sb.disk_mb + ' MiB' : 'unlimited'}`),
      ...kv('Created', `${ago(sb.created_at)} (${sb.created_at})`), ...kv('Last change', ago(sb.updated_at)),
      ...kv('Last activity', ago(sb.last_active_at)),
      ...kv('Lifecycle', `idle ${dur(lc.idle_timeout_s)}${lc.idle_action ? ' → ' + lc.idle_action : ''} · archive after ${dur(lc.auto_archive_after_s)} · delete after ${dur(lc.auto_delete_after_s)} · TTL ${dur(lc.ttl_s)}`),
      ...kv('Idle timer', idleLeft == null ? 'not running' : `${lc.idle_action} in ${dur(Math.round(idleLeft))}`),
      ...kv('Network', `${net.mode || '—'}${net.address ? ' · ' + net.address : ''}${(net.public_ports || []).length ? ' · public ports ' + net.public_ports.join(', ') : ''}`),
      ...kv('Labels', labelsText(sb.labels) || '—'),
      ...kv('Metadata', Object.keys(sb.metadata || {}).length ? JSON.stringify(sb.metadata) : '—'));
  }
  async function pollMetrics() {
    try {
      const m = await get(`${base}/metrics`);
      const samples = [...m.history, m.current];
      lineChart(charts.cpu, samples.map((s) => s.cpu_percent), { label: 'CPU %', max: 100 * sb.cpu, format: (v) => `${v.toFixed(1)}%` });
      lineChart(charts.mem, samples.map((s) => s.memory_bytes / 1048576), { label: 'Memory MiB', max: sb.memory_mb, format: (v) => `${v.toFixed(1)} MiB` });
      metricsNote.textContent = `${m.current.pids} processes · disk written ${bytes(m.current.disk_bytes)} · sampled every 5 s`;
    } catch (e) {
      metricsNote.textContent = `No metrics: ${e.message}`;
    }
  }
  function showOverview() {
    body.append(h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', {}, 'Overview'), h('dl', { class: 'kv', id: 'overview-kv' })),
      h('div', { class: 'panel' }, h('h2', {}, 'Resource use'), charts.cpu, charts.mem, metricsNote)));
    paintOverview();
    pollMetrics();
    const t = setInterval(() => { pollMetrics(); paintOverview(); }, 5000);
    cleanups.push(() => clearInterval(t));
  }

  // ---- terminal ----
  async function showTerminal() {
    const status = h('span', { class: 'muted', id: 'term-status' }, 'connecting…');
    const box = h('div');
    const reconnect = h('button', { type: 'button', onclick: () => { stop(); box.replaceChildren(); start(); } }, 'Reconnect');
    body.append(h('div', { class: 'row', style: 'margin-bottom:8px' }, status, h('span', { class: 'spacer' }), reconnect), box);
    if (ctx.readOnly) { status.textContent = 'A read-only key cannot open a terminal.'; return; }
    const { mount } = await import('./terminal.js');
    let stop = () => {};
    const start = () => { stop = mount(box, id, (s) => { status.textContent = s; }); };
    start();
    cleanups.push(() => stop());
  }

  // ---- files ----
  async function showFiles() {
    const { mount } = await import('./files.js');
    mount(body, sb, sb.workdir || '/');
  }

  // ---- processes ----
  async function showProcesses() {
    const perr = errorBox();
    const tbody = h('tbody');
    const load = async () => {
      perr.show(null);
      try {
        const l = await get(`${base}/processes`);
        tbody.replaceChildren(...l.items.map((p) => h('tr', {},
          h('td', { class: 'mono' }, p.pid), h('td', {}, p.tag || ''), h('td', { class: 'mono' }, p.cmd.join(' ')), h('td', { class: 'mono' }, p.cwd || ''),
          h('td', { class: 'row', 'data-write': true }, ['TERM', 'KILL'].map((sig) => h('button', {
            type: 'button', class: 'danger', 'aria-label': `Send ${sig} to ${p.pid}`,
            onclick: async () => {
              if (!(await confirmDialog(`Send ${sig} to process ${p.pid}?`, p.cmd.join(' '), sig))) return;
              try { await post(`${base}/processes/${p.pid}/signal`, { signal: sig }); load(); } catch (e) { perr.show(e); }
            },
          }, sig))))));
        if (!l.items.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No processes started through the API are running. Start one with `warren exec` or the terminal.')));
      } catch (e) { perr.show(e); }
    };
    body.append(h('div', { class: 'panel' }, h('div', { class: 'row' }, h('h2', {}, 'Processes'), h('span', { class: 'spacer' }), h('button', { type: 'button', onclick: load }, '↻ Refresh')),
      perr, h('table', { 'aria-label': 'Processes' }, h('thead', {}, h('tr', {}, ['PID', 'Tag', 'Command', 'Directory', 'Signal'].map((c) => h('th', {}, c)))), tbody)));
    load();
  }

  // ---- logs ----
  function showLogs() {
    const lerr = errorBox();
    const pre = h('pre', { class: 'log', id: 'logs', 'aria-label': 'Main process log', tabindex: '0' });
    const ctl = new AbortController();
    body.append(h('div', { class: 'panel' }, h('h2', {}, 'Main process output (live)'), lerr, pre));
    cleanups.push(() => ctl.abort());
    (async () => {
      try {
        const res = await request('GET', `${base}/logs?tail=500&follow=true`, { signal: ctl.signal });
        await lines(res, (l) => {
          const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.append(l + '\n');
          if (stick) pre.scrollTop = pre.scrollHeight;
        });
      } catch (e) { if (e.name !== 'AbortError') lerr.show(e); }
      if (!pre.textContent) pre.textContent = '(no output yet)';
    })();
  }

  // ---- events ----
  async function showEvents() {
    const eerr = errorBox();
    const list = h('tbody', { id: 'events' });
    const row = (ev) => h('tr', {}, h('td', { title: ev.at }, ago(ev.at)), h('td', { class: 'mono' }, ev.action),
      h('td', {}, ev.from_state ? `${ev.from_state} → ${ev.to_state}` : ''), h('td', {}, ev.actor || ''),
      h('td', {}, h('span', { class: `badge ${ev.result === 'ok' ? 'state-running' : 'state-error'}` }, ev.result)), h('td', {}, ev.message || ''));
    body.append(h('div', { class: 'panel' }, h('h2', {}, 'Events'), eerr,
      h('table', { 'aria-label': 'Events' }, h('thead', {}, h('tr', {}, ['When', 'Action', 'State', 'Actor', 'Result', 'Message'].map((c) => h('th', {}, c)))), list)));
    try {
      const l = await get(`/v1/events?sandbox=${enc(id)}&limit=200`);
      list.replaceChildren(...l.items.reverse().map(row));
    } catch (e) { eerr.show(e); }
    cleanups.push(subscribe((ev) => { if (ev.sandbox_id === id) list.prepend(row(ev)); }));
  }

  // ---- ports ----
  async function showPorts() {
    const perr = errorBox();
    const tbody = h('tbody');
    body.append(h('div', { class: 'panel' }, h('h2', {}, 'Listening ports'), perr,
      h('table', { 'aria-label': 'Ports' }, h('thead', {}, h('tr', {}, ['Port', 'Access', 'Open'].map((c) => h('th', {}, c)))), tbody)));
    try {
      const l = await get(`${base}/ports`);
      tbody.replaceChildren(...l.items.map((p) => h('tr', {}, h('td', { class: 'mono' }, p.port), h('td', {}, p.public ? 'public' : 'token'),
        h('td', { class: 'row' }, h('a', { href: p.url, target: '_blank', rel: 'noopener' }, p.url), h('a', { href: p.path_url, target: '_blank', rel: 'noopener' }, 'path URL')))));
      if (!l.items.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'empty' }, 'Nothing listens yet. Start a server on 0.0.0.0 in the sandbox (e.g. `python3 -m http.server 8000`) and refresh.')));
    } catch (e) { perr.show(e); }
  }

  const SHOW = { overview: showOverview, terminal: showTerminal, files: showFiles, processes: showProcesses, logs: showLogs, events: showEvents, ports: showPorts };

  cleanups.push(subscribe((ev) => {
    if (ev.sandbox_id !== id || !sb) return;
    if (ev.action === 'sandbox.deleted') {
      err.show(new Error(`${id} was deleted.`));
      actions.replaceChildren();
      return;
    }
    if (ev.to_state) { sb.state = ev.to_state; sb.updated_at = ev.at; paintHeader(); }
    get(base).then((s) => { sb = s; paintHeader(); }).catch(() => {});
  }));

  (async () => {
    try {
      sb = await get(base);
    } catch (e) {
      err.show(e);
      return;
    }
    paintHeader();
    await SHOW[tab]();
  })();
  return () => cleanups.forEach((c) => c());
}
