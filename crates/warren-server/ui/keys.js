// API keys: create (the key is shown once, with a copy button), list, revoke.
import { h, ago, toast, confirmDialog, errorBox } from './dom.js';
import { get, post, del, enc } from './api.js';

export function render(main, _params, ctx) {
  const err = errorBox();
  const tbody = h('tbody', { id: 'key-rows' });
  const name = h('input', { id: 'key-name', type: 'text', placeholder: 'ci-runner', required: true });
  const scope = h('select', { id: 'key-scope' }, h('option', { value: 'full' }, 'full: everything'), h('option', { value: 'read' }, 'read: GET only'));
  const expires = h('input', { id: 'key-expires', type: 'text', inputmode: 'numeric', placeholder: 'never' });
  const cerr = errorBox();
  const shown = h('div');
  const form = h('form', { class: 'panel', 'data-write': true }, h('h2', {}, 'Create a key'),
    h('div', { class: 'form-grid' }, h('label', { for: 'key-name' }, 'Name', name), h('label', { for: 'key-scope' }, 'Scope', scope),
      h('label', { for: 'key-expires' }, 'Expires in (seconds)', expires)),
    cerr, shown, h('div', { class: 'row', style: 'margin-top:8px' }, h('span', { class: 'spacer' }), h('button', { class: 'primary', type: 'submit' }, 'Create key')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    cerr.show(null);
    const exp = expires.value.trim();
    try {
      const k = await post('/v1/keys', { name: name.value.trim(), scope: scope.value, expires_in_s: exp ? (Number.isFinite(Number(exp)) ? Number(exp) : exp) : undefined });
      const code = h('code', { id: 'new-key' }, k.key);
      shown.replaceChildren(h('p', {}, h('strong', {}, `Key “${k.name}” created. Copy it now: it is not shown again.`)),
        h('div', { class: 'secret' }, code, h('button', { type: 'button', onclick: async () => {
          try { await navigator.clipboard.writeText(k.key); toast('Copied'); } catch { getSelection().selectAllChildren(code); toast('Selected: press Ctrl+C'); }
        } }, 'Copy')));
      name.value = '';
      load();
    } catch (e2) { cerr.show(e2); }
  });
  main.append(h('h1', {}, 'API keys'), err, form,
    h('div', { class: 'panel' }, h('table', { 'aria-label': 'API keys' },
      h('thead', {}, h('tr', {}, ['Name', 'Prefix', 'Scope', 'Created', 'Expires', 'Status', ''].map((c) => h('th', {}, c)))), tbody)));

  async function load() {
    try {
      const l = await get('/v1/keys');
      tbody.replaceChildren(...l.items.map((k) => {
        const expired = k.expires_at && Date.parse(k.expires_at) < Date.now();
        const status = k.revoked_at ? 'revoked' : expired ? 'expired' : 'active';
        const self = ctx.who && ctx.who.key_id === k.id;
        return h('tr', {}, h('td', {}, k.name, self ? h('span', { class: 'chip' }, 'this session') : null), h('td', { class: 'mono' }, `${k.prefix}…`),
          h('td', {}, k.scope), h('td', {}, ago(k.created_at)), h('td', {}, k.expires_at || 'never'),
          h('td', {}, h('span', { class: `badge ${status === 'active' ? 'state-running' : 'state-error'}` }, status)),
          h('td', {}, status === 'active' && !self ? h('button', { type: 'button', class: 'danger', 'data-write': true, 'aria-label': `Revoke ${k.name}`, onclick: async () => {
            if (!(await confirmDialog(`Revoke “${k.name}”?`, 'Everything using this key stops working at once.', 'Revoke'))) return;
            try { await del(`/v1/keys/${enc(k.id)}`); toast('Revoked'); load(); } catch (e) { err.show(e); }
          } }, 'Revoke') : null));
      }));
    } catch (e) { err.show(e); }
  }
  load();
}
