// One EventSource on /v1/events/stream for the whole page; pages subscribe to it. The browser
// reconnects by itself and sends Last-Event-ID, and the daemon replays what was missed, so a
// dropped connection loses no state change.

const subscribers = new Set();
let source = null;
let pending = [];

function open(after) {
  const q = after === undefined ? '' : `?after=${after}`;
  source = new EventSource(`/v1/events/stream${q}`, { withCredentials: true });
  source.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    // Nobody listens yet (opened by start()): keep it for the first subscriber.
    if (!subscribers.size) { if (pending.length < 5000) pending.push(ev); return; }
    for (const fn of subscribers) {
      try { fn(ev); } catch (e) { console.error(e); }
    }
  };
  source.onerror = () => {
    // CLOSED means the daemon refused (signed out): stop; the next subscribe reopens.
    if (source && source.readyState === EventSource.CLOSED) source = null;
  };
}

/** Open the stream now, replaying the events after `after` (a seq) to the first subscribers. */
export function start(after) {
  if (!source) open(after);
}

/** Call fn(event) for every event from now on; returns the unsubscribe function. */
export function subscribe(fn) {
  subscribers.add(fn);
  if (!source) open();
  for (const ev of pending.splice(0)) {
    try { fn(ev); } catch (e) { console.error(e); }
  }
  return () => subscribers.delete(fn);
}

/** Close the stream (sign-out). */
export function close() {
  if (source) source.close();
  source = null;
  subscribers.clear();
  pending = [];
}
