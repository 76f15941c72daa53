// The sign-in page: an API key in, a session cookie out (POST /ui/session).
import { h, errorBox } from './dom.js';
import { request } from './api.js';

export function render(main, _params, ctx) {
  const err = errorBox();
  const key = h('input', { id: 'api-key', type: 'password', name: 'key', autocomplete: 'current-password', required: true, placeholder: 'wk_…' });
  const btn = h('button', { class: 'primary', type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'panel signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to warren'),
    h('p', { class: 'muted' }, 'Paste an API key. The key is exchanged for a session cookie; it is not stored in the browser. ',
      'A new daemon prints its first key on start; `warren key create` makes more.'),
    h('label', { for: 'api-key' }, 'API key', key),
    err,
    h('div', { class: 'row', style: 'margin-top:12px' }, h('span', { class: 'spacer' }), btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    btn.disabled = true;
    try {
      const res = await request('POST', '/ui/session', { json: { key: key.value.trim() } });
      const who = await res.json();
      ctx.signedIn(who);
    } catch (e2) {
      err.show(e2);
      key.focus();
    } finally {
      btn.disabled = false;
    }
  });
  main.append(form);
  key.focus();
}
