// Small DOM helpers shared by every page: element builder, escaping, formatting, toasts,
// confirmations.

/** Build an element: h('a', {href: '#', class: 'x', onclick: fn}, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escape text for an HTML string (used where tables are built as one string, for speed). */
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

/** 1536 → "1.5 KiB". */
export function bytes(n) {
  if (n == null) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

/** "3 min ago" for an RFC 3339 time. */
export function ago(t) {
  if (!t) return '—';
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Seconds → "1h 30m". */
export function dur(s) {
  if (s == null) return 'off';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export const badge = (state) => h('span', { class: `badge state-${state}`, 'data-state': state }, state);

/** A short message at the bottom right. */
export function toast(msg, bad = false) {
  const t = h('div', { class: `toast${bad ? ' bad' : ''}`, role: bad ? 'alert' : 'status' }, msg);
  document.getElementById('toasts').append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}

/** Ask before doing something that loses data; resolves true when confirmed. */
export function confirmDialog(title, body, action = 'Confirm', danger = true) {
  return new Promise((resolve) => {
    const ok = h('button', { class: danger ? 'danger solid' : 'primary', value: 'ok' }, action);
    const d = h('dialog', { 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        h('p', {}, body),
        h('div', { class: 'row' }, h('span', { class: 'spacer' }),
          h('button', { value: 'cancel', type: 'submit' }, 'Cancel'), ok)));
    d.addEventListener('close', () => { resolve(d.returnValue === 'ok'); d.remove(); });
    document.body.append(d);
    d.showModal();
    ok.focus();
  });
}

/** An error box that shows an API error where it happened. */
export function errorBox() {
  const el = h('div', { class: 'error', role: 'alert', 'aria-live': 'assertive' });
  el.show = (e) => { el.textContent = e ? (e.message || String(e)) : ''; };
  return el;
}

/** Parse "KEY=VALUE" lines (env, labels) into an object; throws naming the bad line. */
export function parsePairs(text, what) {
  const out = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${what}, line ${i + 1}: expected KEY=VALUE, got "${line}"`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export const labelsText = (labels) => Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join(', ');
