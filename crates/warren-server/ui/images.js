// Images: the local store, pull from a registry with live progress, import an archive, delete.
import { h, ago, bytes, toast, confirmDialog, errorBox } from './dom.js';
import { get, del, request, lines, enc } from './api.js';

export function render(main) {
  const err = errorBox();
  const tbody = h('tbody', { id: 'image-rows' });
  const ref = h('input', { id: 'pull-ref', type: 'text', placeholder: 'python:3.12-slim or 127.0.0.1:5000/app:tag', required: true });
  const insecure = h('input', { id: 'pull-insecure', type: 'checkbox' });
  const pullBtn = h('button', { class: 'primary', type: 'submit' }, 'Pull');
  const perr = errorBox();
  const bar = h('div', {});
  const status = h('div', { class: 'muted', role: 'status', id: 'pull-status' });
  const progress = h('div', { class: 'progress', hidden: true, role: 'progressbar', 'aria-label': 'Pull progress', 'aria-valuemin': '0', 'aria-valuemax': '100' }, bar);
  const file = h('input', { id: 'import-file', type: 'file', accept: '.tar,.tar.gz,.tgz,application/x-tar' });
  const tag = h('input', { id: 'import-tag', type: 'text', placeholder: 'optional: store as name:tag' });
  const ierr = errorBox();

  main.append(h('h1', {}, 'Images'), err,
    h('div', { class: 'grid2', 'data-write': true },
      h('form', { class: 'panel', onsubmit: pull }, h('h2', {}, 'Pull from a registry'),
        h('label', { for: 'pull-ref' }, 'Reference', ref),
        h('label', { class: 'inline', style: 'margin-top:8px' }, insecure, 'Plain HTTP (registry not on loopback)'),
        perr, progress, status, h('div', { class: 'row', style: 'margin-top:8px' }, h('span', { class: 'spacer' }), pullBtn)),
      h('form', { class: 'panel', onsubmit: importArchive }, h('h2', {}, 'Import an archive'),
        h('label', { for: 'import-file' }, '`docker save` tarball or OCI archive', file),
        h('label', { for: 'import-tag', style: 'margin-top:8px' }, 'Tag', tag),
        ierr, h('div', { class: 'row', style: 'margin-top:8px' }, h('span', { class: 'spacer' }), h('button', { class: 'primary', type: 'submit' }, 'Import')))),
    h('div', { class: 'panel' }, h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Images' },
      h('thead', {}, h('tr', {}, ['Reference', 'Digest', 'Size', 'Layers', 'Stored', ''].map((c) => h('th', {}, c)))), tbody))));

  async function load() {
    try {
      const l = await get('/v1/images');
      tbody.replaceChildren(...l.items.map((i) => h('tr', {},
        h('td', { class: 'mono' }, i.reference), h('td', { class: 'mono', title: i.digest }, i.digest.slice(7, 19)),
        h('td', {}, bytes(i.size)), h('td', {}, i.layers), h('td', {}, ago(i.created_at)),
        h('td', {}, h('a', { class: 'button', href: `#/new?image=${enc(i.reference)}`, 'data-write': true }, 'New sandbox'), ' ',
          h('button', { type: 'button', class: 'danger', 'data-write': true, 'aria-label': `Delete ${i.reference}`, onclick: async () => {
            if (!(await confirmDialog(`Delete ${i.reference}?`, 'Layers no other image uses are removed. Sandboxes using it keep it.', 'Delete'))) return;
            try { await del(`/v1/images/${enc(i.reference)}`); toast('Deleted'); load(); } catch (e) { err.show(e); }
          } }, 'Delete')))));
      if (!l.items.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No images yet: pull one above, or create a sandbox (it pulls its image).')));
    } catch (e) { err.show(e); }
  }

  // Progress: bytes downloaded over the total the manifest announced.
  function follow(res, errBox) {
    let total = 0; const got = new Map();
    progress.hidden = false;
    bar.style.width = '0';
    return lines(res, (line) => {
      const ev = JSON.parse(line);
      if (ev.event === 'resolved') { total = ev.total_bytes; status.textContent = `${ev.reference}: ${ev.layers} layers, ${bytes(total)}`; }
      if (ev.event === 'layer_progress') got.set(ev.digest, ev.downloaded);
      if (ev.event === 'layer_cached' || ev.event === 'layer_done') got.set(ev.digest, ev.size ?? got.get(ev.digest) ?? 0);
      if (ev.event === 'unpacking') status.textContent = `unpacking ${ev.digest.slice(7, 19)}…`;
      if (ev.event === 'image') { bar.style.width = '100%'; status.textContent = `stored ${ev.image.reference}`; toast(`Stored ${ev.image.reference}`); }
      if (ev.event === 'error') errBox.show(new Error(ev.error.message || JSON.stringify(ev.error)));
      if (total) {
        const pct = Math.min(100, (100 * [...got.values()].reduce((a, b) => a + b, 0)) / total);
        bar.style.width = `${pct}%`;
        progress.setAttribute('aria-valuenow', pct.toFixed(0));
      }
    });
  }

  async function pull(e) {
    e.preventDefault();
    perr.show(null);
    pullBtn.disabled = true;
    try {
      const res = await request('POST', '/v1/images/pull', { json: { ref: ref.value.trim(), insecure: insecure.checked }, headers: { Accept: 'application/x-ndjson' } });
      await follow(res, perr);
      load();
    } catch (e2) { perr.show(e2); } finally { pullBtn.disabled = false; }
  }

  async function importArchive(e) {
    e.preventDefault();
    ierr.show(null);
    if (!file.files[0]) { ierr.show(new Error('Choose an archive file first.')); return; }
    try {
      const q = tag.value.trim() ? `?tag=${enc(tag.value.trim())}` : '';
      const res = await request('POST', `/v1/images/import${q}`, { body: file.files[0], headers: { Accept: 'application/x-ndjson', 'Content-Type': 'application/x-tar' } });
      await follow(res, ierr);
      load();
    } catch (e2) { ierr.show(e2); }
  }

  load();
}
