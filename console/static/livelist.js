// A live list: items shown newest first, each once, fed both by a page of
// the API's list and by a stream of new items. The delivery log and the
// inbox are both one.

import { el } from './dom.js';
import { openLive } from './sse.js';

// liveIndicator is the small "● live" badge next to a live list.
export function liveIndicator(id) {
  const node = el('span', { id, class: 'live live-connecting', text: 'connecting…', 'aria-live': 'polite' });
  node.set = (st, text) => {
    node.className = 'live live-' + st;
    node.textContent = st === 'live' ? 'live' : text;
    node.dataset.state = st;
  };
  return node;
}

// LiveList keeps items in container, newest first, at most once each.
// opts: key(item) tells items apart; newer(a, b) orders them;
// render(item, source) makes an item's node, or its nodes (the first
// leads); placeholder selects the "nothing here" element an insert
// removes.
export class LiveList {
  constructor(container, opts) {
    this.container = container;
    this.opts = opts;
    this.entries = []; // {item, nodes}, newest first
    this.keys = new Set();
  }

  get size() {
    return this.keys.size;
  }

  // insert shows an item where its time puts it, unless it is shown
  // already; it reports whether it did.
  insert(item, source) {
    const k = this.opts.key(item);
    if (this.keys.has(k)) return false;
    const empty = this.container.querySelector(this.opts.placeholder);
    if (empty) empty.remove();
    const nodes = [this.opts.render(item, source)].flat();
    let at = this.entries.findIndex((e) => this.opts.newer(item, e.item));
    if (at < 0) at = this.entries.length;
    const before = at < this.entries.length ? this.entries[at].nodes[0] : null;
    for (const n of nodes) this.container.insertBefore(n, before);
    this.entries.splice(at, 0, { item, nodes });
    this.keys.add(k);
    return true;
  }

  // reset forgets every item and shows placeholder nodes instead.
  reset(...placeholder) {
    this.entries = [];
    this.keys = new Set();
    this.container.replaceChildren(...placeholder);
  }
}

// followLive opens the stream at path for as long as signal lives and
// keeps a list in step with it. The list is loaded once the stream is
// open, so nothing that happens in between is missed: reload() starts it
// over on the first connection (or when the stream cannot be opened at
// all, to show the list anyway), merge() adds what a reconnection missed.
// onEvent(type, payload) takes each streamed event; indicator shows the
// stream's state and onState(state), when given, hears it too.
export function followLive(path, signal, { indicator, reload, merge, onEvent, onState }) {
  let loaded = false;
  openLive(path, signal, {
    onState: (st, text) => {
      if (onState) onState(st);
      indicator.set(st, text);
    },
    onReady: (first) => {
      loaded = true;
      if (first) reload();
      else merge();
    },
    onDown: () => {
      // Without a stream, still show the list.
      if (!loaded) {
        loaded = true;
        reload();
      }
    },
    onEvent,
  });
}
