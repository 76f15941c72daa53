// One EventSource on /v1/events/stream for the whole page; pages subscribe to it. The browser
// reconnects by itself and sends Last-Event-ID, and the daemon replays what was missed, so a
// dropped connection loses no state change.

const subscribers = new Set();
let source = null;

function open() {
  source = new EventSource('/v1/events/stream', { withCredentials: true });
  source.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    for (const fn of subscribers) {
      try { fn(ev); } catch (e) { console.error(e); }
    }
  };
  source.onerror = () => {
    // CLOSED means the daemon refused (signed out): stop; the next subscribe reopens.
    if (source && source.readyState === EventSource.CLOSED) source = null;
  };
}

/** Call fn(event) for every event from now on; returns the unsubscribe function. */
export function subscribe(fn) {
  subscribers.add(fn);
  if (!source) open();
  return () => subscribers.delete(fn);
}

/** Close the stream (sign-out). */
export function close() {
  if (source) source.close();
  source = null;
  subscribers.clear();
}
