// The sandboxes table: every sandbox, kept current from the events stream (a state change
// patches its row in place; new sandboxes are fetched, deleted ones dropped). Filters by state,
// image and label, a search box, sortable columns, and bulk actions on the selected rows.
import { h, esc, ago, badge, toast, confirmDialog, errorBox, labelsText } from './dom.js';
import { all, get, post, del, enc } from './api.js';
import { subscribe } from './live.js';

const STATES = ['creating', 'running', 'paused', 'hibernated', 'stopped', 'archived', 'deleting', 'error'];
const COLS = [
  ['id', 'ID'], ['state', 'State'], ['image', 'Image'], ['cpu', 'CPU'], ['memory_mb', 'Memory'],
  ['labels', 'Labels'], ['created_at', 'Created'],
];
// Kept across visits within the page's life.
const view = { state: '', image: '', label: '', q: '', sort: 'created_at', dir: -1, page: 0, size: 100 };
const SIZES = [50, 100, 250, 1000];

const BULK = {
  pause: { ok: ['running'], verb: 'Pause' },
  resume: { ok: ['paused', 'hibernated'], verb: 'Resume' },
  stop: { ok: ['running', 'paused', 'hibernated'], verb: 'Stop', confirm: 'Stopping ends every process in them (their files stay).' },
  delete: { ok: STATES, verb: 'Delete', confirm: 'Deleting removes them and all their files. This cannot be undone.' },
};

export function render(main, _params, ctx) {
  const boxes = new Map();
  const selected = new Set();
  const err = errorBox();
  const stateSel = h('select', { id: 'f-state', 'aria-label': 'Filter by state' },
    h('option', { value: '' }, 'All states'), STATES.map((s) => h('option', { value: s }, s)));
  const imageSel = h('select', { id: 'f-image', 'aria-label': 'Filter by image' }, h('option', { value: '' }, 'All images'));
  const labelIn = h('input', { id: 'f-label', type: 'search', placeholder: 'label: key=value', 'aria-label': 'Filter by label (key=value, comma-separated)' });
  const search = h('input', { id: 'f-search', type: 'search', placeholder: 'Search id, image, label…', 'aria-label': 'Search sandboxes' });
  stateSel.value = view.state; labelIn.value = view.label; search.value = view.q;
  const count = h('span', { class: 'muted', id: 'sb-count' });
  const bulkBar = h('div', { class: 'row', 'data-write': true, role: 'toolbar', 'aria-label': 'Bulk actions on selected sandboxes' },
    h('span', { class: 'muted', id: 'sel-count' }, ''),
    Object.entries(BULK).map(([op, b]) => h('button', { type: 'button', class: op === 'delete' ? 'danger' : '', disabled: true, 'data-bulk': op, onclick: () => bulk(op) }, b.verb)));
  const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all shown sandboxes' });
  const thead = h('thead', {}, h('tr', {},
    h('th', { 'data-write': true }, allBox),
    COLS.map(([k, label]) => h('th', { 'data-col': k, 'aria-sort': k === view.sort ? (view.dir > 0 ? 'ascending' : 'descending') : 'none' },
      h('button', { type: 'button', class: 'sort', onclick: () => sortBy(k) }, label)))));
  const tbody = h('tbody', { id: 'sb-rows' });
  const table = h('table', { class: 'sandboxes', 'aria-label': 'Sandboxes' }, thead, tbody);
  const empty = h('div', { class: 'empty', hidden: true });
  // Pages of the table: every sandbox stays in memory (search, filters and sort see all of
  // them); the DOM holds one page, so a big fleet still renders at once.
  const pageInfo = h('span', { class: 'muted', id: 'page-info', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', 'aria-label': 'Previous page', onclick: () => { view.page--; paint(); } }, '‹ Prev');
  const next = h('button', { type: 'button', 'aria-label': 'Next page', onclick: () => { view.page++; paint(); } }, 'Next ›');
  const sizeSel = h('select', { id: 'page-size', 'aria-label': 'Rows per page' }, SIZES.map((n) => h('option', { value: n }, `${n} a page`)));
  sizeSel.value = String(view.size);
  sizeSel.addEventListener('change', () => { view.size = Number(sizeSel.value); view.page = 0; paint(); });
  const pager = h('div', { class: 'row', style: 'margin-top:10px' }, h('span', { class: 'spacer' }), pageInfo, prev, next, sizeSel);

  main.append(
    h('h1', {}, 'Sandboxes', count, h('span', { class: 'spacer' }),
      h('a', { class: 'button primary', href: '#/new', 'data-write': true }, '+ New sandbox')),
    err,
    h('div', { class: 'panel' },
      h('div', { class: 'row', style: 'margin-bottom:10px' }, search, stateSel, imageSel, labelIn, h('span', { class: 'spacer' }), bulkBar),
      h('div', { class: 'table-wrap' }, table), empty, pager));

  function matches(s) {
    if (view.state && s.state !== view.state) return false;
    if (view.image && s.image !== view.image) return false;
    if (view.label) {
      for (const pair of view.label.split(',').map((p) => p.trim()).filter(Boolean)) {
        const [k, v] = pair.split('=');
        if (!(k in (s.labels || {}))) return false;
        if (v !== undefined && s.labels[k] !== v) return false;
      }
    }
    if (view.q) {
      const hay = `${s.id} ${s.image} ${s.state} ${labelsText(s.labels)}`.toLowerCase();
      if (!hay.includes(view.q.toLowerCase())) return false;
    }
    return true;
  }

  function cmp(a, b) {
    let x = a[view.sort], y = b[view.sort];
    if (view.sort === 'labels') { x = labelsText(x); y = labelsText(y); }
    return (x < y ? -1 : x > y ? 1 : 0) * view.dir || (a.id < b.id ? -1 : 1);
  }

  function rowHtml(s) {
    const labels = Object.entries(s.labels || {}).map(([k, v]) => `<span class="chip">${esc(k)}=${esc(v)}</span>`).join('');
    return `<tr data-id="${esc(s.id)}"><td data-write><input type="checkbox" aria-label="Select ${esc(s.id)}"${selected.has(s.id) ? ' checked' : ''}></td>` +
      `<td><a class="mono" href="#/sandbox/${esc(s.id)}">${esc(s.id)}</a></td>` +
      `<td><span class="badge state-${esc(s.state)}" data-state="${esc(s.state)}">${esc(s.state)}</span></td>` +
      `<td class="mono">${esc(s.image)}${s.parent_snapshot ? ` <span class="chip" title="made from this snapshot">from ${esc(s.parent_snapshot)}</span>` : ''}</td>` +
      `<td>${esc(s.cpu)}</td><td>${esc(s.memory_mb)} MiB</td><td>${labels}</td>` +
      `<td title="${esc(s.created_at)}">${esc(ago(s.created_at))}</td></tr>`;
  }

  function paint() {
    const shown = [...boxes.values()].filter(matches).sort(cmp);
    const pages = Math.max(1, Math.ceil(shown.length / view.size));
    view.page = Math.min(Math.max(0, view.page), pages - 1);
    const from = view.page * view.size;
    const slice = shown.slice(from, from + view.size);
    tbody.innerHTML = slice.map(rowHtml).join('');
    pageInfo.textContent = shown.length ? `${from + 1}–${from + slice.length} of ${shown.length}` : '';
    prev.disabled = view.page === 0;
    next.disabled = view.page >= pages - 1;
    pager.hidden = shown.length <= SIZES[0];
    count.textContent = `${shown.length}${shown.length !== boxes.size ? ` of ${boxes.size}` : ''}`;
    table.hidden = shown.length === 0;
    empty.hidden = shown.length !== 0;
    empty.replaceChildren(...(boxes.size === 0
      ? [h('strong', {}, 'No sandboxes yet'), 'Create one with “New sandbox”, or `warren create busybox` from the CLI.']
      : [h('strong', {}, 'No sandbox matches'), 'Clear the search or the filters to see all of them.']));
    paintSelection();
  }

  function paintImages() {
    const images = [...new Set([...boxes.values()].map((s) => s.image))].sort();
    imageSel.replaceChildren(h('option', { value: '' }, 'All images'), images.map((i) => h('option', { value: i }, i)));
    imageSel.value = view.image;
  }

  function paintSelection() {
    for (const id of selected) if (!boxes.has(id)) selected.delete(id);
    const sel = [...selected].map((id) => boxes.get(id));
    document.getElementById('sel-count').textContent = sel.length ? `${sel.length} selected` : '';
    for (const b of bulkBar.querySelectorAll('[data-bulk]')) {
      b.disabled = !sel.some((s) => BULK[b.dataset.bulk].ok.includes(s.state));
    }
    const rows = tbody.querySelectorAll('tr');
    allBox.checked = rows.length > 0 && [...rows].every((r) => selected.has(r.dataset.id));
  }

  // Patch one row without repainting the table (the common live update).
  function patch(s) {
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(s.id)}"]`);
    if (row && matches(s)) {
      row.outerHTML = rowHtml(s);
      paintSelection();
    } else if (row || matches(s)) {
      paint();
    }
  }

  function sortBy(k) {
    view.dir = view.sort === k ? -view.dir : 1;
    view.sort = k;
    for (const th of thead.querySelectorAll('th[data-col]')) {
      th.setAttribute('aria-sort', th.dataset.col === k ? (view.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    paint();
  }

  async function bulk(op) {
    const b = BULK[op];
    const targets = [...selected].map((id) => boxes.get(id)).filter((s) => s && b.ok.includes(s.state));
    if (!targets.length) return;
    if (b.confirm && !(await confirmDialog(`${b.verb} ${targets.length} sandbox${targets.length > 1 ? 'es' : ''}?`, b.confirm, b.verb))) return;
    const results = await Promise.allSettled(targets.map((s) =>
      op === 'delete' ? del(`/v1/sandboxes/${enc(s.id)}`) : post(`/v1/sandboxes/${enc(s.id)}/${op}`)));
    const failed = results.map((r, i) => [r, targets[i]]).filter(([r]) => r.status === 'rejected');
    if (failed.length) err.show(new Error(failed.map(([r, s]) => `${s.id}: ${r.reason.message}`).join('\n')));
    else { err.show(null); toast(`${b.verb}: ${targets.length} done`); }
    if (op === 'delete') for (const s of targets) selected.delete(s.id);
  }

  tbody.addEventListener('change', (e) => {
    const row = e.target.closest('tr');
    if (!row) return;
    if (e.target.checked) selected.add(row.dataset.id); else selected.delete(row.dataset.id);
    paintSelection();
  });
  allBox.addEventListener('change', () => {
    for (const r of tbody.querySelectorAll('tr')) {
      if (allBox.checked) selected.add(r.dataset.id); else selected.delete(r.dataset.id);
      r.querySelector('input').checked = allBox.checked;
    }
    paintSelection();
  });
  stateSel.addEventListener('change', () => { view.state = stateSel.value; view.page = 0; paint(); });
  imageSel.addEventListener('change', () => { view.image = imageSel.value; view.page = 0; paint(); });
  let t;
  const typed = () => { clearTimeout(t); t = setTimeout(() => { view.q = search.value; view.label = labelIn.value; view.page = 0; paint(); }, 120); };
  search.addEventListener('input', typed);
  labelIn.addEventListener('input', typed);

  // Live: events arriving before the first list are queued and replayed after it.
  let loaded = false;
  const early = [];
  const fetching = new Set();
  async function refetch(id) {
    if (fetching.has(id)) return;
    fetching.add(id);
    try {
      const s = await get(`/v1/sandboxes/${enc(id)}`);
      const isNew = !boxes.has(id);
      boxes.set(id, s);
      if (isNew) { paint(); paintImages(); } else patch(s);
    } catch (e) {
      if (e.status === 404 && boxes.delete(id)) paint();
    } finally {
      fetching.delete(id);
    }
  }
  function onEvent(ev) {
    if (!ev.sandbox_id) return;
    if (!loaded) { early.push(ev); return; }
    const id = ev.sandbox_id;
    if (ev.action === 'sandbox.deleted') {
      if (boxes.delete(id)) paint();
      return;
    }
    const s = boxes.get(id);
    if (s && ev.to_state) {
      s.state = ev.to_state;
      s.updated_at = ev.at;
      patch(s);
    }
    // New sandboxes (and changes that are not a state, e.g. labels): fetch the whole object.
    if (!s || !ev.to_state) refetch(id);
  }
  const unsubscribe = subscribe(onEvent);

  (async () => {
    try {
      const t0 = performance.now();
      const first = await (ctx.takePrefetch() || Promise.resolve(null));
      for (const s of await all('/v1/sandboxes', 500, first)) boxes.set(s.id, s);
      const t1 = performance.now();
      loaded = true;
      paintImages();
      paint();
      for (const ev of early.splice(0)) onEvent(ev);
      // For the benchmark: when the data was there, and how long painting it took.
      window.__warrenTable = { dataAt: t1, waitedMs: t1 - t0, paintMs: performance.now() - t1 };
      main.dataset.loaded = 'true';
    } catch (e) {
      err.show(e);
    }
  })();
  return unsubscribe;
}
