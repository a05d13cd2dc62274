// Routing by location.hash: which page a #/... address shows.

import { el } from './dom.js';
import { startPage } from './page.js';
import { renderAccount, renderApiKeys, renderMembers } from './pages/account.js';
import { renderInbox } from './pages/inbox.js';
import { renderLogin } from './pages/login.js';
import { renderPublish } from './pages/publish.js';
import { renderWebhookDetail } from './pages/webhook.js';
import { renderWebhookForm } from './pages/webhook-form.js';
import { renderWebhookList } from './pages/webhooks.js';
import { canEdit, isUser, markPortalEntry, renderEnded, session, wasPortal } from './session.js';

// seg decodes one path segment, or leaves it as it is if it is not
// valid percent-encoding.
function seg(s) {
  try { return decodeURIComponent(s); } catch (_) { return s; }
}

// routes: the hash path's pattern, the nav entry it marks, whether it
// changes things (a read-only portal session cannot open it), and the
// page. USER marks a user's own pages, which no portal session opens.
const USER = 'user';
const routes = [
  [/^#\/?$|^#\/webhooks\/?$/, 'webhooks', false, () => renderWebhookList()],
  [/^#\/webhooks\/new$/, 'webhooks', true, (m, query) => renderWebhookForm(null, query)],
  [/^#\/webhooks\/([^/]+)\/edit$/, 'webhooks', true, (m, query) => renderWebhookForm(seg(m[1]), query)],
  [/^#\/webhooks\/([^/]+)$/, 'webhooks', false, (m) => renderWebhookDetail(seg(m[1]))],
  [/^#\/inbox(?:\/([^/]*))?$/, 'inbox', false, (m) => renderInbox(seg(m[1] || '') || 'demo')],
  [/^#\/publish$/, 'publish', true, () => renderPublish()],
  [/^#\/api-keys$/, 'api-keys', USER, () => renderApiKeys()],
  [/^#\/members$/, 'members', USER, () => renderMembers()],
  [/^#\/account$/, 'account', USER, () => renderAccount()],
];

export function route() {
  const hash = location.hash || '#/webhooks';
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  if (session.ended || (!session.token && wasPortal())) {
    // A portal session that ended, or a portal's page reloaded without
    // its token: no sign-in form, no API calls.
    markNav('');
    return renderEnded();
  }
  if (!session.token) {
    markNav('');
    return renderLogin();
  }
  if (session.portal) {
    markPortalEntry();
    if (!session.portal.ready) return renderOpening();
  }
  for (const [pattern, nav, changes, render] of routes) {
    const m = pattern.exec(path);
    if (!m) continue;
    markNav(nav);
    if (changes === USER && !isUser()) return renderNotForPortal();
    if (changes && !canEdit()) return renderReadOnly();
    return render(m, query);
  }
  markNav('');
  return renderNotFound();
}

function renderOpening() {
  const { root } = startPage('portal-opening');
  root.append(el('p', { class: 'muted', text: 'Opening the portal…' }));
}

// renderReadOnly stands in for a form a read-only portal session cannot
// use, when its address is typed or followed from elsewhere.
function renderReadOnly() {
  const { root } = startPage('read-only');
  root.append(
    el('h1', { text: 'Read-only' }),
    el('p', null, 'This portal session can look but not change anything. ', el('a', { href: '#/webhooks', text: 'Go to the webhooks' })));
}

// renderNotForPortal stands in for a user's own page (API keys,
// members, password) when a portal session's address names one.
function renderNotForPortal() {
  const { root } = startPage('not-for-portal');
  root.append(
    el('h1', { text: 'Not in the portal' }),
    el('p', null, 'This page belongs to webhookd\'s own users; a portal session shows the tenant\'s webhooks only. ',
      el('a', { href: '#/webhooks', text: 'Go to the webhooks' })));
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
