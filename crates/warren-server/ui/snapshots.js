// Snapshots: the lineage tree (sandbox → its snapshots → sandboxes made from them → …) and the
// list. Click a node for its details and actions: open a sandbox; from a snapshot, create a
// sandbox, delete it, or archive it. Refreshed live from the events stream.
import { h, ago, bytes, badge, toast, confirmDialog, errorBox } from './dom.js';
import { all, post, del, enc } from './api.js';
import { subscribe } from './live.js';

export function render(main, { query }, ctx) {
  const err = errorBox();
  const treeBox = h('div', { class: 'tree', id: 'lineage', role: 'tree', 'aria-label': 'Lineage of snapshots and sandboxes' });
  const detail = h('div', { class: 'panel', id: 'node-detail' }, h('p', { class: 'muted' }, 'Select a node to see it and act on it.'));
  const listBody = h('tbody', { id: 'snap-rows' });
  let selected = query.get('focus');
  let snaps = [], boxes = [];

  main.append(h('h1', {}, 'Snapshots', h('span', { class: 'muted', id: 'snap-count' })), err,
    h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', {}, 'Lineage'), treeBox),
      detail),
    h('div', { class: 'panel' }, h('h2', {}, 'All snapshots'),
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Snapshots' },
        h('thead', {}, h('tr', {}, ['Snapshot', 'State', 'From', 'Memory', 'Size', 'Frozen', 'Created'].map((c) => h('th', {}, c)))), listBody))));

  function build() {
    const sbById = new Map(boxes.map((s) => [s.id, s]));
    const snapById = new Map(snaps.map((s) => [s.id, s]));
    const kids = new Map(); // node key → child nodes
    const add = (parent, node) => { if (!kids.has(parent)) kids.set(parent, []); kids.get(parent).push(node); };
    const roots = [];
    for (const s of snaps) {
      const node = { kind: 'snap', obj: s, key: s.id };
      if (s.source_sandbox && sbById.has(s.source_sandbox)) add(s.source_sandbox, node);
      else if (s.parent_snapshot && snapById.has(s.parent_snapshot)) add(s.parent_snapshot, node);
      else roots.push(node);
    }
    for (const b of boxes) {
      const node = { kind: 'sb', obj: b, key: b.id };
      if (b.parent_snapshot && snapById.has(b.parent_snapshot)) add(b.parent_snapshot, node);
      else if (kids.has(b.id)) roots.push(node); // only sandboxes that have a lineage
    }
    roots.sort((a, b) => (a.obj.created_at < b.obj.created_at ? -1 : 1));
    return { roots, kids };
  }

  function nodeEl(n, kids, level) {
    const o = n.obj;
    const label = n.kind === 'snap'
      ? [h('span', { class: 'kind' }, o.memory ? 'snapshot+mem' : 'snapshot'), h('span', { class: 'mono' }, o.name || o.id), badge(o.state)]
      : [h('span', { class: 'kind' }, 'sandbox'), h('span', { class: 'mono' }, o.id), badge(o.state)];
    const children = (kids.get(n.key) || []).sort((a, b) => (a.obj.created_at < b.obj.created_at ? -1 : 1));
    const btn = h('button', {
      type: 'button', class: `node ${n.kind}${selected === n.key ? ' sel' : ''}`, role: 'treeitem',
      'aria-level': String(level), 'aria-selected': String(selected === n.key), 'data-node': n.key,
      onclick: () => { selected = n.key; paint(); },
    }, label);
    return h('li', {}, btn, children.length ? h('ul', { role: 'group' }, children.map((c) => nodeEl(c, kids, level + 1))) : null);
  }

  function paintDetail() {
    const s = snaps.find((x) => x.id === selected);
    const b = boxes.find((x) => x.id === selected);
    const derr = errorBox();
    if (s) {
      const fromHere = h('button', { type: 'button', class: 'primary', 'data-write': true, disabled: s.state !== 'ready' && s.state !== 'archived' }, 'Create sandbox from here');
      fromHere.addEventListener('click', async () => {
        fromHere.disabled = true;
        derr.show(null);
        try {
          const sb = await post('/v1/sandboxes', { snapshot: s.id });
          toast(`Created ${sb.id} from ${s.name || s.id}`);
          selected = sb.id;
          load();
        } catch (e) { derr.show(e); } finally { fromHere.disabled = false; }
      });
      detail.replaceChildren(h('h2', {}, `Snapshot ${s.name || s.id}`),
        h('dl', { class: 'kv' },
          h('dt', {}, 'Id'), h('dd', { class: 'mono' }, s.id), h('dt', {}, 'State'), h('dd', {}, badge(s.state)),
          h('dt', {}, 'Taken from'), h('dd', {}, s.source_sandbox ? h('a', { href: `#/sandbox/${enc(s.source_sandbox)}` }, s.source_sandbox) : '—'),
          h('dt', {}, 'Image'), h('dd', { class: 'mono' }, s.image),
          h('dt', {}, 'Memory'), h('dd', {}, s.memory ? `yes, ${bytes(s.memory_bytes)}` : 'no (files only)'),
          h('dt', {}, 'Files'), h('dd', {}, `${bytes(s.fs_bytes)} · layer depth ${s.depth}`),
          h('dt', {}, 'Frozen for'), h('dd', {}, `${s.paused_ms.toFixed(0)} ms`),
          h('dt', {}, 'Created'), h('dd', {}, ago(s.created_at))),
        derr,
        h('div', { class: 'row', style: 'margin-top:12px' }, fromHere,
          h('a', { class: 'button', href: `#/new?snapshot=${enc(s.id)}`, 'data-write': true }, 'Customize…'),
          h('span', { class: 'spacer' }),
          h('button', { type: 'button', 'data-write': true, disabled: s.state !== 'ready', onclick: async () => {
            if (!(await confirmDialog(`Archive ${s.name || s.id}?`, 'Its files move to the archive store; creating a sandbox from it fetches them back.', 'Archive', false))) return;
            try { await post(`/v1/snapshots/${enc(s.id)}/archive`); toast('Archived'); load(); } catch (e) { derr.show(e); }
          } }, 'Archive'),
          h('button', { type: 'button', class: 'danger', 'data-write': true, onclick: async () => {
            if (!(await confirmDialog(`Delete ${s.name || s.id}?`, 'The snapshot and its files are removed. This cannot be undone.', 'Delete'))) return;
            try { await del(`/v1/snapshots/${enc(s.id)}`); toast('Deleted'); selected = null; load(); } catch (e) { derr.show(e); }
          } }, 'Delete')));
    } else if (b) {
      detail.replaceChildren(h('h2', {}, `Sandbox ${b.id}`),
        h('dl', { class: 'kv' }, h('dt', {}, 'State'), h('dd', {}, badge(b.state)), h('dt', {}, 'Image'), h('dd', { class: 'mono' }, b.image),
          h('dt', {}, 'From snapshot'), h('dd', {}, b.parent_snapshot || '—'), h('dt', {}, 'Created'), h('dd', {}, ago(b.created_at))),
        h('div', { class: 'row', style: 'margin-top:12px' }, h('a', { class: 'button primary', href: `#/sandbox/${enc(b.id)}` }, 'Open sandbox')));
    }
  }

  function paint() {
    const { roots, kids } = build();
    document.getElementById('snap-count').textContent = String(snaps.length);
    treeBox.replaceChildren(roots.length
      ? h('ul', {}, roots.map((r) => nodeEl(r, kids, 1)))
      : h('div', { class: 'empty' }, h('strong', {}, 'No snapshots yet'), 'Open a running sandbox and use Snapshot or Branch: the lineage appears here.'));
    listBody.replaceChildren(...[...snaps].reverse().map((s) => h('tr', {},
      h('td', {}, h('a', { href: '#', class: 'mono', onclick: (e) => { e.preventDefault(); selected = s.id; paint(); treeBox.scrollIntoView({ block: 'nearest' }); } }, s.name || s.id)),
      h('td', {}, badge(s.state)), h('td', { class: 'mono' }, s.source_sandbox || '—'), h('td', {}, s.memory ? 'yes' : 'no'),
      h('td', {}, bytes(s.fs_bytes + s.memory_bytes)), h('td', {}, `${s.paused_ms.toFixed(0)} ms`), h('td', {}, ago(s.created_at)))));
    if (!snaps.length) listBody.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'None yet.')));
    paintDetail();
  }

  let loading = null;
  async function load() {
    if (loading) return loading;
    loading = (async () => {
      try {
        [snaps, boxes] = await Promise.all([all('/v1/snapshots'), all('/v1/sandboxes')]);
        err.show(null);
        paint();
        main.dataset.loaded = 'true';
      } catch (e) { err.show(e); }
      loading = null;
    })();
    return loading;
  }
  let t;
  const unsubscribe = subscribe((ev) => {
    if (!/^(sandbox|snapshot)\./.test(ev.action)) return;
    clearTimeout(t);
    t = setTimeout(load, 300);
  });
  load();
  return () => { unsubscribe(); clearTimeout(t); };
}
