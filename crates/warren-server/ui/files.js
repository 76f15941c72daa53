// The file browser of one sandbox: navigate directories, upload by drag-and-drop (or the file
// picker), download, view and edit small text files, make folders, delete.
import { h, bytes, ago, toast, confirmDialog, errorBox } from './dom.js';
import { get, post, del, request, enc } from './api.js';

const MAX_EDIT = 1024 * 1024;

const join = (dir, name) => (dir.endsWith('/') ? dir : dir + '/') + name;
const parent = (p) => p.replace(/\/[^/]+\/?$/, '') || '/';

/** Mount the browser for sandbox `sb` into `box`, starting at `start`. */
export function mount(box, sb, start = '/') {
  const id = sb.id;
  const base = `/v1/sandboxes/${enc(id)}`;
  let cwd = start;
  const err = errorBox();
  const crumbs = h('nav', { class: 'row', 'aria-label': 'Current directory' });
  const tbody = h('tbody');
  const list = h('table', { 'aria-label': 'Files' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Size'), h('th', {}, 'Mode'), h('th', {}, 'Owner'), h('th', {}, 'Modified'), h('th', {}, h('span', { class: 'hint' }, 'Actions')))),
    tbody);
  const picker = h('input', { type: 'file', multiple: true, id: 'upload-input', 'aria-label': 'Upload files to this directory' });
  const drop = h('div', { class: 'drop', 'data-write': true, id: 'dropzone' },
    'Drop files here to upload them to this directory, or ', h('label', { class: 'inline', style: 'display:inline-flex' }, picker));
  const viewer = h('div');
  const newDir = h('button', { type: 'button', 'data-write': true, onclick: mkdir }, 'New folder');
  box.append(h('div', { class: 'row', style: 'margin-bottom:8px' }, crumbs, h('span', { class: 'spacer' }), newDir,
    h('button', { type: 'button', onclick: () => load(), 'aria-label': 'Refresh the listing' }, '↻ Refresh')),
  err, drop, h('div', { class: 'table-wrap' }, list), viewer);

  function paintCrumbs() {
    const parts = cwd.split('/').filter(Boolean);
    const items = [h('a', { href: '#', onclick: (e) => { e.preventDefault(); go('/'); } }, '/')];
    parts.forEach((p, i) => {
      const path = '/' + parts.slice(0, i + 1).join('/');
      items.push(h('a', { href: '#', onclick: (e) => { e.preventDefault(); go(path); } }, p), '/');
    });
    crumbs.replaceChildren(...items);
  }

  async function load() {
    err.show(null);
    paintCrumbs();
    try {
      const l = await get(`${base}/files/list?path=${enc(cwd)}&depth=1`);
      const entries = l.entries.sort((a, b) => (a.type === 'dir') === (b.type === 'dir') ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1);
      const rows = [];
      if (cwd !== '/') rows.push(h('tr', {}, h('td', { colspan: 6 }, h('a', { href: '#', onclick: (e) => { e.preventDefault(); go(parent(cwd)); } }, '.. (up)'))));
      for (const f of entries) {
        const isDir = f.type === 'dir' || (f.type === 'symlink' && false);
        const name = isDir
          ? h('a', { href: '#', class: 'mono', onclick: (e) => { e.preventDefault(); go(f.path); } }, `${f.name}/`)
          : h('a', { href: '#', class: 'mono', onclick: (e) => { e.preventDefault(); view(f); } }, f.name + (f.symlink_target ? ` → ${f.symlink_target}` : ''));
        rows.push(h('tr', { 'data-path': f.path },
          h('td', {}, name), h('td', {}, isDir ? '—' : bytes(f.size)), h('td', { class: 'mono' }, f.mode),
          h('td', {}, `${f.owner}:${f.group}`), h('td', { title: f.modified_at || '' }, ago(f.modified_at)),
          h('td', { class: 'row' },
            isDir ? null : h('a', { class: 'button', href: `${base}/files?path=${enc(f.path)}`, download: f.name, 'aria-label': `Download ${f.name}` }, 'Download'),
            h('button', { type: 'button', class: 'danger', 'data-write': true, 'aria-label': `Delete ${f.name}`, onclick: () => remove(f) }, 'Delete'))));
      }
      if (!entries.length) rows.push(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'This directory is empty. Drop files above to upload.')));
      tbody.replaceChildren(...rows);
    } catch (e) {
      err.show(e);
      tbody.replaceChildren();
    }
  }

  function go(path) { cwd = path; viewer.replaceChildren(); load(); }

  async function view(f) {
    viewer.replaceChildren();
    const verr = errorBox();
    const title = h('h2', {}, f.path);
    if (f.size > MAX_EDIT) {
      viewer.append(h('div', { class: 'panel' }, title, `${bytes(f.size)}: too large to show here; download it instead.`));
      return;
    }
    let text;
    try {
      const res = await request('GET', `${base}/files?path=${enc(f.path)}`);
      const buf = new Uint8Array(await res.arrayBuffer());
      if (buf.includes(0)) {
        viewer.append(h('div', { class: 'panel' }, title, 'Binary file: download it instead.'));
        return;
      }
      text = new TextDecoder().decode(buf);
    } catch (e) {
      verr.show(e);
      viewer.append(verr);
      return;
    }
    const area = h('textarea', { id: 'file-editor', 'aria-label': `Content of ${f.path}`, style: 'min-height:240px', spellcheck: 'false' });
    area.value = text;
    area.readOnly = document.body.classList.contains('ro');
    const save = h('button', { type: 'button', class: 'primary', 'data-write': true }, 'Save');
    save.addEventListener('click', async () => {
      verr.show(null);
      save.disabled = true;
      try {
        await request('PUT', `${base}/files?path=${enc(f.path)}`, { body: area.value, headers: { 'Content-Type': 'application/octet-stream' } });
        toast(`Saved ${f.path}`);
        load();
      } catch (e) { verr.show(e); } finally { save.disabled = false; }
    });
    viewer.append(h('div', { class: 'panel' }, h('div', { class: 'row' }, title, h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => viewer.replaceChildren() }, 'Close'), save), verr, area));
    area.focus();
  }

  async function upload(files) {
    err.show(null);
    for (const file of files) {
      try {
        await request('PUT', `${base}/files?path=${enc(join(cwd, file.name))}`, { body: file, headers: { 'Content-Type': 'application/octet-stream' } });
        toast(`Uploaded ${file.name} to ${cwd}`);
      } catch (e) {
        err.show(new Error(`${file.name}: ${e.message}`));
      }
    }
    load();
  }

  async function remove(f) {
    if (!(await confirmDialog(`Delete ${f.path}?`, f.type === 'dir' ? 'The directory and everything in it are removed.' : 'The file is removed.', 'Delete'))) return;
    try {
      await del(`${base}/files?path=${enc(f.path)}${f.type === 'dir' ? '&recursive=true' : ''}`);
      load();
    } catch (e) { err.show(e); }
  }

  async function mkdir() {
    const name = prompt('New folder name');
    if (!name) return;
    try { await post(`${base}/files/mkdir`, { path: join(cwd, name) }); load(); } catch (e) { err.show(e); }
  }

  picker.addEventListener('change', () => { upload([...picker.files]); picker.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload([...e.dataTransfer.files]); });
  load();
}
