// A browser terminal: xterm.js on the PTY WebSocket (GET /v1/sandboxes/{id}/pty). Binary
// frames carry terminal bytes both ways; a text frame {"type":"resize",cols,rows} follows the
// element's size; the server's {"type":"exit"} / {"type":"error"} end the session.
import { Terminal } from './vendor/xterm.mjs';
import { FitAddon } from './vendor/addon-fit.mjs';
import { h } from './dom.js';

/** Mount a terminal for sandbox `id` into `box`; returns a function that closes it. */
export function mount(box, id, onStatus = () => {}) {
  if (!document.querySelector('link[data-xterm]')) {
    document.head.append(h('link', { rel: 'stylesheet', href: '/ui/vendor/xterm.css', 'data-xterm': true }));
  }
  const dark = { background: '#0b0d12', foreground: '#e6e8ec', cursor: '#5b8dff' };
  const term = new Terminal({ cursorBlink: true, fontSize: 13, theme: dark, scrollback: 5000,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' });
  const fit = new FitAddon();
  term.loadAddon(fit);
  const el = h('div', { class: 'term', role: 'application', 'aria-label': `Terminal of ${id}` });
  box.append(el);
  term.open(el);
  try { fit.fit(); } catch { /* not laid out yet */ }
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/v1/sandboxes/${encodeURIComponent(id)}/pty?cols=${term.cols}&rows=${term.rows}`);
  ws.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  let open = false;
  ws.onopen = () => { open = true; onStatus('connected'); term.focus(); };
  ws.onmessage = (m) => {
    if (typeof m.data === 'string') {
      let msg; try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === 'exit') { term.write(`\r\n[process exited with code ${msg.exit_code}]\r\n`); onStatus('exited'); }
      if (msg.type === 'error') { term.write(`\r\n[error: ${msg.message}]\r\n`); onStatus('error'); }
    } else {
      term.write(new Uint8Array(m.data));
    }
  };
  ws.onclose = (e) => {
    if (!open) term.write(`[could not open a terminal${e.reason ? `: ${e.reason}` : ''}; is the sandbox running?]\r\n`);
    onStatus('closed');
  };
  term.onData((d) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d)); });
  term.onResize(({ cols, rows }) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  });
  const ro = new ResizeObserver(() => { try { fit.fit(); } catch { /* hidden */ } });
  ro.observe(el);
  return () => { ro.disconnect(); ws.close(); term.dispose(); };
}
