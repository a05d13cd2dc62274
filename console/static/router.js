// Routing by location.hash: which page a #/... address shows.

import { el } from './dom.js';
import { startPage } from './page.js';
import { renderInbox } from './pages/inbox.js';
import { renderLogin } from './pages/login.js';
import { renderPublish } from './pages/publish.js';
import { renderWebhookDetail } from './pages/webhook.js';
import { renderWebhookForm } from './pages/webhook-form.js';
import { renderWebhookList } from './pages/webhooks.js';
import { session } from './session.js';

// seg decodes one path segment, or leaves it as it is if it is not
// valid percent-encoding.
function seg(s) {
  try { return decodeURIComponent(s); } catch (_) { return s; }
}

// routes: the hash path's pattern, the nav entry it marks, and the page.
const routes = [
  [/^#\/?$|^#\/webhooks\/?$/, 'webhooks', () => renderWebhookList()],
  [/^#\/webhooks\/new$/, 'webhooks', (m, query) => renderWebhookForm(null, query)],
  [/^#\/webhooks\/([^/]+)\/edit$/, 'webhooks', (m, query) => renderWebhookForm(seg(m[1]), query)],
  [/^#\/webhooks\/([^/]+)$/, 'webhooks', (m) => renderWebhookDetail(seg(m[1]))],
  [/^#\/inbox(?:\/([^/]*))?$/, 'inbox', (m) => renderInbox(seg(m[1] || '') || 'demo')],
  [/^#\/publish$/, 'publish', () => renderPublish()],
];

export function route() {
  const hash = location.hash || '#/webhooks';
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  if (!session.token) {
    markNav('');
    return renderLogin();
  }
  for (const [pattern, nav, render] of routes) {
    const m = pattern.exec(path);
    if (!m) continue;
    markNav(nav);
    return render(m, query);
  }
  markNav('');
  return renderNotFound();
}

function renderNotFound() {
  const { root } = startPage('not-found');
  root.append(el('h1', { text: 'Nothing here' }), el('p', null, el('a', { href: '#/webhooks', text: 'Go to your webhooks' })));
}

function markNav(which) {
  for (const a of document.querySelectorAll('#nav a[data-nav]')) {
    const on = a.dataset.nav === which;
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}
