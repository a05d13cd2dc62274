// webhookd console: a small single-page app over webhookd's JSON API,
// written as native ES modules with no build step. This is the entry
// point; index.html loads it as a module and it imports the rest:
//   api.js       the API client (and what is read from the API once)
//   session.js   the signed-in session or a tenant's portal, in memory only
//   dom.js       the DOM builder; format.js, ui.js shared pieces
//   sse.js       Server-Sent Events over fetch; livelist.js a live list
//   page.js      the page being shown; router.js which one
//   pages/*.js   one module per page
//
// Rules the console keeps, because the page shows data other people
// control (webhook names, event payloads, whatever anyone POSTs to an
// inbox):
//   * The DOM is built with createElement and textContent only (dom.js).
//     Nothing here parses a string as HTML, so every value is shown as
//     text.
//   * No inline script or style: the Content-Security-Policy forbids both,
//     so looks come from classes in app.css.
//   * The access token lives in a variable, never in storage or a cookie:
//     a reload signs out, and there is nothing for another site to ride
//     on (no cookie, so no CSRF). A portal URL's token (#portal=...) is
//     taken out of the address before anything else runs.
//   * Links only ever point inside the console (#/...); URLs typed by users
//     are shown as text, never made clickable.
//   * Rules the server owns (the event catalogue, what an inbox may be
//     called) are read from the API, not copied here.
'use strict'; // modules are strict already; this says so to a reader

import { api } from './api.js';
import { $ } from './dom.js';
import { route } from './router.js';
import { PORTAL_PREFIX, endSession, onSessionChange, startPortal, takePortalToken } from './session.js';
import { flash } from './ui.js';

// First of all, a portal URL's token leaves the address bar and the
// history.
const portalToken = takePortalToken();

onSessionChange(route);
$('#signout').addEventListener('click', () => {
  endSession();
  flash('Signed out.', 'info');
});
window.addEventListener('hashchange', () => {
  // A new portal URL for this page (an application refreshing the
  // session in the same frame) changes only the fragment; load it afresh
  // so that it starts as a new page.
  if (location.hash.startsWith(PORTAL_PREFIX)) location.reload();
  else route();
});
if (portalToken) startPortal(portalToken, () => api('GET', '/api/v1/auth/me'));
else route();
