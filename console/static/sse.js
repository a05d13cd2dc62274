// Server-Sent Events over fetch. EventSource cannot send an Authorization
// header, and the token must not go in a URL (it would land in logs), so
// the stream is read with fetch and parsed here.

import { ApiError, authHeaders, parseJSON } from './api.js';
import { session, sessionRefused } from './session.js';

// frameParser returns a function that takes one line of the stream at a
// time and calls onEvent(type, data) for each complete frame.
function frameParser(onEvent) {
  let type = '';
  let data = [];
  return (line) => {
    if (line === '') {
      // A blank line ends a frame; a frame without data is not an
      // event (as in the EventSource specification).
      if (data.length) onEvent(type || 'message', data.join('\n'));
      type = '';
      data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment: the keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let val = colon < 0 ? '' : line.slice(colon + 1);
    if (val.startsWith(' ')) val = val.slice(1);
    if (field === 'event') type = val;
    else if (field === 'data') data.push(val);
    // id and retry are not needed: after a reconnect the page
    // reloads its list, which covers anything missed.
  };
}

// readEventStream reads one response body to its end and calls
// onEvent(type, data) for each complete frame.
async function readEventStream(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const feed = frameParser(onEvent);
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      feed(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
  }
}

// openLive keeps a stream open for as long as signal lives, reconnecting
// with backoff. handlers: onReady(first) after each (re)connection,
// onEvent(type, payload) per event, onState(state, text) for the
// indicator, and onDown() when a connection is lost or refused.
export function openLive(path, signal, handlers) {
  keepLive(path, signal, handlers);
}

async function keepLive(path, signal, handlers) {
  const live = { delay: 1000, connections: 0 };
  while (!signal.aborted) {
    let problem = 'the stream ended';
    handlers.onState('connecting', 'connecting…');
    try {
      if (!await follow(path, signal, handlers, live)) return;
    } catch (err) {
      if (signal.aborted) return;
      problem = err.message;
    }
    if (signal.aborted) return;
    handlers.onState('retrying', 'reconnecting in ' + Math.round(live.delay / 1000) + ' s (' + problem + ')');
    if (handlers.onDown) handlers.onDown();
    await sleep(live.delay, signal);
    live.delay = Math.min(live.delay * 2, 30000);
  }
}

// follow reads one connection of the stream to its end. It answers false
// when the session has ended, so there is nothing to reconnect for.
async function follow(path, signal, handlers, live) {
  if (session.ended) return false; // a portal session that has ended sends nothing
  const res = await fetch(path, {
    headers: authHeaders({ Accept: 'text/event-stream' }),
    cache: 'no-store',
    signal,
  });
  if (res.status === 401) {
    const body = parseJSON(await res.text());
    sessionRefused((body && body.message) || 'HTTP 401');
    return false;
  }
  if (!res.ok) throw new ApiError(res.status, parseJSON(await res.text()), 'HTTP ' + res.status);
  await readEventStream(res, (type, data) => {
    let payload;
    try { payload = JSON.parse(data); } catch (_) { return; }
    try {
      if (type === 'ready') {
        live.delay = 1000;
        handlers.onState('live', 'live');
        handlers.onReady(live.connections++ === 0);
      } else {
        handlers.onEvent(type, payload);
      }
    } catch (err) {
      // A rendering bug must not take the stream down with it.
      console.error('console: live event', type, err);
    }
  });
  return true;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
