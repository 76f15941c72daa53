// The dashboard's shell: theme, session, hash router. Each page is an ES module with
// render(main, params, ctx) that may return a cleanup function (called on leaving the page).
// Pages are imported when first visited, so the first load fetches only the shell and the
// sandboxes table; xterm.js comes with the terminal.
import { request, setUnauthorizedHandler } from './api.js';
import { close as closeLive, start as startLive } from './live.js';
import { toast } from './dom.js';

const PAGES = {
  sandboxes: () => import('./sandboxes.js'),
  new: () => import('./create.js'),
  sandbox: () => import('./sandbox.js'),
  snapshots: () => import('./snapshots.js'),
  images: () => import('./images.js'),
  keys: () => import('./keys.js'),
  host: () => import('./host.js'),
  signin: () => import('./signin.js'),
};

// The sandboxes table is the usual first page: ask for its data at once, in parallel with the
// session check and the page's module (it is only used when the session turns out valid).
// The events stream is opened from the newest event's seq *before* the list is read, so no
// change between the two is lost (one already in the list is replayed harmlessly).
const getJson = (u) => fetch(u, { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : null));
let prefetch = /^(#\/?(sandboxes)?)?$/.test(location.hash)
  ? getJson('/v1/events?limit=1').then((l) => {
    if (!l) return null;
    startLive(l.items.length ? l.items[l.items.length - 1].seq : 0);
    return getJson('/v1/sandboxes?limit=500');
  }).catch(() => null)
  : null;

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signout = document.getElementById('signout');
let cleanup = null;
let session = null;
let renderSeq = 0;

// Theme: the stored choice, else the system's.
const themeKey = 'warren-theme';
function applyTheme(t) { document.documentElement.dataset.theme = t; }
applyTheme(localStorage.getItem(themeKey) || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
document.getElementById('theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem(themeKey, next);
  applyTheme(next);
});

const ctx = {
  get who() { return session; },
  get readOnly() { return session?.scope === 'read'; },
  go(hash) { location.hash = hash; },
  /** The first page of /v1/sandboxes fetched at start-up (once), or null. */
  takePrefetch() { const p = prefetch; prefetch = null; return p; },
  signedIn(w) {
    setSession(w);
    const back = sessionStorage.getItem('warren-after-signin');
    sessionStorage.removeItem('warren-after-signin');
    if (back && back !== location.hash) location.hash = back; else route();
  },
};

function setSession(w) {
  session = w;
  nav.hidden = !w;
  signout.hidden = !w;
  who.textContent = w ? `${w.key_name}${w.scope === 'read' ? ' (read-only)' : ''}` : '';
  document.body.classList.toggle('ro', w?.scope === 'read');
}

function parse() {
  const parts = location.hash.replace(/^#\/?/, '').split('?');
  const segs = parts[0].split('/').filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(parts[1] || '');
  return { page: segs[0] || 'sandboxes', segs: segs.slice(1), query };
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  let { page, segs, query } = parse();
  if (!session) page = 'signin';
  if (!PAGES[page]) page = 'sandboxes';
  for (const a of nav.querySelectorAll('a')) {
    const cur = a.dataset.nav === page || (page === 'sandbox' || page === 'new') && a.dataset.nav === 'sandboxes';
    if (cur) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  let mod;
  try {
    mod = await PAGES[page]();
  } catch (e) {
    main.textContent = `Cannot load this page: ${e.message}`;
    return;
  }
  if (seq !== renderSeq) return;
  main.replaceChildren();
  document.title = `${page === 'sandbox' ? segs[0] : page} · warren`;
  const r = mod.render(main, { segs, query }, ctx);
  cleanup = typeof r === 'function' ? r : null;
}

setUnauthorizedHandler(() => {
  if (!session) return;
  setSession(null);
  closeLive();
  toast('Your session ended: sign in again.', true);
  sessionStorage.setItem('warren-after-signin', location.hash);
  route();
});

signout.addEventListener('click', async () => {
  try { await request('DELETE', '/ui/session'); } catch (e) { toast(e.message, true); }
  setSession(null);
  closeLive();
  location.hash = '#/sandboxes';
  route();
});

window.addEventListener('hashchange', route);

(async () => {
  try {
    const res = await fetch('/ui/session', { credentials: 'same-origin' });
    if (res.ok) setSession(await res.json());
  } catch { /* daemon unreachable: the sign-in page says so when used */ }
  if (!session && location.hash && location.hash !== '#/') sessionStorage.setItem('warren-after-signin', location.hash);
  route();
})();
