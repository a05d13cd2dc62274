// The signed-in session. The access token lives in this module's memory,
// never in storage or a cookie: a reload signs out, and there is nothing
// for another site to ride on (no cookie, so no CSRF).

import { $ } from './dom.js';
import { flash } from './ui.js';

export const session = {
  token: null, // the JWT from POST /api/v1/auth/login; memory only
  user: null, // {id, email}
  cache: new Map(), // what is fetched once per sign-in, such as the event types
  expiryTimer: 0,
};

// changed is called after a sign-in or sign-out, to show the right page;
// the router registers itself here (the router imports the pages, which
// import this module, so it cannot be imported back).
let changed = () => {};

export function onSessionChange(fn) {
  changed = fn;
}

export function showNav(on) {
  $('#nav').hidden = !on;
  $('#nav-user').textContent = on && session.user ? session.user.email : '';
}

// startSession keeps a login's answer and shows the page asked for, or
// the webhook list.
export function startSession(r) {
  session.token = r.accessToken;
  session.user = r.user;
  // Sign out a little before the token expires rather than fail
  // mid-action.
  const ms = Math.max(0, (r.expiresIn || 0) * 1000 - 30000);
  if (ms) session.expiryTimer = setTimeout(() => endSession('Your session expired. Sign in again.'), Math.min(ms, 2147483647));
  showNav(true);
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/webhooks';
  else changed();
}

export function endSession(message) {
  session.token = null;
  session.user = null;
  session.cache.clear();
  clearTimeout(session.expiryTimer);
  showNav(false);
  if (message) flash(message, 'error');
  changed();
}
