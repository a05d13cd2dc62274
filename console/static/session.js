// The signed-in session. The access token lives in this module's memory,
// never in storage or a cookie: a reload signs out, and there is nothing
// for another site to ride on (no cookie, so no CSRF).
//
// A session is either a user's, from the sign-in page, or a tenant's
// portal, opened from the URL an application got from
// POST /api/v1/tenants/{id}/portal-sessions (#portal=<token>). A portal
// has no sign-in page and no sign-out: when its token ends, the console
// says so and asks the API nothing more.

import { $, el } from './dom.js';
import { startPage } from './page.js';
import { flashNext } from './ui.js';

export const session = {
  token: null, // the JWT from POST /api/v1/auth/login or the portal URL; memory only
  user: null, // {id, email}
  // portal is set while the console is a tenant's portal:
  // {ready: false} until GET /api/v1/auth/me has answered, then
  // {ready: true, tenant, readOnly, expiresAt}.
  portal: null,
  // ended is set once a portal session has ended (expired, or refused by
  // the API): nothing is asked of the API after it.
  ended: false,
  cache: new Map(), // what is fetched once per sign-in, such as the event types
  expiryTimer: 0,
};

// PORTAL_PREFIX starts the address of a portal URL's fragment.
export const PORTAL_PREFIX = '#portal=';

// The history entries of a portal carry this state (and never the token),
// so that a reload, which forgets the token, says the portal session
// ended instead of offering a sign-in form the portal's user has no
// password for.
const PORTAL_STATE = { portal: true };

// changed is called after a sign-in or sign-out, to show the right page;
// the router registers itself here (the router imports the pages, which
// import this module, so it cannot be imported back).
let changed = () => {};

export function onSessionChange(fn) {
  changed = fn;
}

// canEdit reports whether this session may change anything: false for a
// read-only portal session, whose pages then show no edit controls (the
// API would refuse their requests with 403 anyway).
export function canEdit() {
  return !(session.portal && session.portal.readOnly);
}

export function showNav(on) {
  $('#nav').hidden = !on;
  const portal = session.portal && session.portal.ready ? session.portal : null;
  $('#nav-user').textContent = on && session.user && !portal ? session.user.email : '';
  const tenant = $('#nav-tenant');
  tenant.hidden = !(on && portal);
  if (on && portal) {
    tenant.replaceChildren('Tenant ', el('code', { id: 'nav-tenant-id', text: portal.tenant }),
      portal.readOnly ? el('span', { class: 'badge badge-info', id: 'nav-read-only', text: 'read-only' }) : '');
  }
  // A portal has no sign-out (there is no sign-in to go back to), no
  // publish form when it may not change anything, and none of a user's
  // own pages (keys, members, password), which the API refuses it.
  $('#signout').hidden = Boolean(portal);
  $('#nav a[data-nav="publish"]').hidden = !canEdit();
  for (const a of document.querySelectorAll('#nav a[data-user-only]')) a.hidden = !isUser();
}

// isUser reports whether this is a user's own session (from the sign-in
// page), not a tenant's portal.
export function isUser() {
  return Boolean(session.token) && !session.portal;
}

// startSession keeps a login's answer and shows the page asked for, or
// the webhook list.
export function startSession(r) {
  renewSession(r);
  showNav(true);
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/webhooks';
  else changed();
}

// renewSession keeps a login's answer (or a password change's, which
// has the same shape and replaces the token it ended).
export function renewSession(r) {
  session.token = r.accessToken;
  session.user = r.user;
  clearTimeout(session.expiryTimer);
  // Sign out a little before the token expires rather than fail
  // mid-action.
  const ms = Math.max(0, (r.expiresIn || 0) * 1000 - 30000);
  if (ms) session.expiryTimer = setTimeout(() => endSession('Your session expired. Sign in again.'), Math.min(ms, 2147483647));
}

export function endSession(message) {
  if (session.portal) return endPortal();
  session.token = null;
  session.user = null;
  session.cache.clear();
  clearTimeout(session.expiryTimer);
  showNav(false);
  // Said on the sign-in page that follows (a toast on the page being
  // left would go with it).
  if (message) flashNext(message, 'error');
  changed();
}

// sessionRefused is what the API's 401 does: a user signs in again; a
// portal session has ended for good.
export function sessionRefused(reason) {
  if (session.portal) return endPortal(reason);
  endSession('Your session ended (' + reason + '). Sign in again.');
}

// takePortalToken takes a portal URL's token out of the address, if the
// page was opened with one: the entry is replaced (not added to), so the
// token is neither in the address bar nor in the history, and the
// console goes on at #/webhooks. It answers the token, or ''.
export function takePortalToken() {
  if (!location.hash.startsWith(PORTAL_PREFIX)) return '';
  const token = location.hash.slice(PORTAL_PREFIX.length);
  history.replaceState(PORTAL_STATE, '', location.pathname + location.search + '#/webhooks');
  return token;
}

// wasPortal reports whether this history entry was a portal's page: the
// page was reloaded (or came back) after its token was forgotten.
export function wasPortal() {
  return Boolean(history.state && history.state.portal);
}

// markPortalEntry marks the current history entry as a portal's (new
// entries, from following links, start without state).
export function markPortalEntry() {
  if (session.portal && !wasPortal()) history.replaceState(PORTAL_STATE, '');
}

// startPortal opens a tenant's portal with its token: it asks the API
// who the token is (GET /api/v1/auth/me), keeps the tenant, whether it is
// read-only and when it expires, and ends the portal then. me is the
// function that asks (api.js's, passed in, since api.js imports this
// module).
export async function startPortal(token, me) {
  session.token = token;
  session.portal = { ready: false };
  markPortalEntry();
  showNav(false);
  changed();
  let who;
  try {
    who = await me();
  } catch (err) {
    if (session.ended) return; // a 401: the expired page says so
    session.token = null;
    session.ended = true;
    showEnded('This portal session could not be opened', err.message);
    return;
  }
  session.user = { id: who.id, email: who.email };
  session.portal = { ready: true, tenant: who.tenant, readOnly: Boolean(who.readOnly), expiresAt: who.expiresAt || null };
  const end = Date.parse(session.portal.expiresAt || '');
  if (Number.isFinite(end)) {
    // setTimeout takes at most 2^31-1 ms (24.8 days); a portal session
    // lasts at most a day.
    session.expiryTimer = setTimeout(() => endPortal(), Math.min(Math.max(0, end - Date.now()), 2147483647));
  }
  showNav(true);
  changed();
}

// endPortal ends a portal session: the token is dropped, the page (with
// its fetches and live streams) is left, and the page says so plainly.
// The router shows nothing else after it, and api.js sends nothing.
export function endPortal(reason) {
  session.token = null;
  session.ended = true;
  session.cache.clear();
  clearTimeout(session.expiryTimer);
  showNav(false);
  showEnded('This portal session has expired', reason);
}

// renderEnded is the router's page once a portal session has ended, or
// when a portal's page was reloaded without its token.
export function renderEnded() {
  if (endedWith) return showEnded(endedWith.title, endedWith.detail);
  showEnded('This portal session has ended',
    'Reloading the page ends a portal session: its key is kept in the page\'s memory only.');
}

// endedWith is what the page said when the portal session ended, to say
// again on any address.
let endedWith = null;

function showEnded(title, detail) {
  if (session.ended) endedWith = { title, detail };
  const { root } = startPage('portal-ended', 'narrow');
  root.append(
    el('h1', { id: 'portal-ended-title', text: title }),
    detail ? el('p', { class: 'muted', id: 'portal-ended-detail', text: detail }) : null,
    el('p', { text: 'Open it again from the application that showed it to you.' }));
}
