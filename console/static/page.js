// The page being shown. Each page gets its own AbortController, so that
// leaving it cancels its fetches and closes its live streams.

import { $, el } from './dom.js';
import { clearFlashes, errorBox, quiet } from './ui.js';

let page = { abort: new AbortController() };

// startPage ends the previous page (its fetches, streams and toasts) and
// gives the new one a fresh root element and its signal.
export function startPage(id, cls) {
  page.abort.abort();
  page = { abort: new AbortController() };
  // A toast speaks of the page it came from, so it leaves with it.
  clearFlashes();
  const root = el('div', { id, class: ['page', cls] });
  $('#app').replaceChildren(root);
  // The document scrolls on a wide screen, the page's own box on a
  // narrow one (app.css): a new page starts at the top of either.
  window.scrollTo(0, 0);
  $('#app').scrollTop = 0;
  return { root, signal: page.abort.signal };
}

// pageError shows err on the page, unless it needs no words or the page
// has been left.
export function pageError(root, err) {
  if (quiet(err) || page.abort.signal.aborted) return;
  root.append(errorBox(err));
}
