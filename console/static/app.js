// webhookd console: a small single-page app over webhookd's JSON API.
//
// Rules this file keeps, because the page shows data other people control
// (webhook names, event payloads, whatever anyone POSTs to an inbox):
//   * The DOM is built with createElement and textContent only. Nothing
//     here parses a string as HTML, so every value is shown as text.
//   * No inline script or style: the Content-Security-Policy forbids both,
//     so looks come from classes in app.css.
//   * The access token lives in a variable, never in storage or a cookie:
//     a reload signs out, and there is nothing for another site to ride
//     on (no cookie, so no CSRF).
//   * Links only ever point inside the console (#/...); URLs typed by users
//     are shown as text, never made clickable.
'use strict';

(function () {
  // ---------------------------------------------------------------------
  // State

  const state = {
    token: null, // the JWT from POST /api/v1/auth/login; memory only
    user: null, // {id, email}
    eventTypes: null, // the catalogue, fetched once per sign-in
    expiryTimer: 0,
  };

  // The page being shown. Each page gets its own AbortController so that
  // leaving it cancels its fetches and closes its live streams.
  let page = { abort: new AbortController() };

  const LOGIN_PATH = '/api/v1/auth/login';
  const INBOX_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

  // Example data per event type, so the forms start with something that
  // looks like what the CRM sends.
  const SAMPLE_DATA = {
    'message.new': { messageId: 'msg_123', conversationId: 'conv_456', content: 'Hello!' },
    'conversation.created': { conversationId: 'conv_456', contactId: 'contact_789' },
    'conversation.assigned': { conversationId: 'conv_456', assigneeId: 'agent_42' },
    'campaign.started': { campaignId: 'camp_1', recipients: 100 },
    'campaign.completed': { campaignId: 'camp_1', sent: 100, failed: 0 },
    'webhook.test': {},
  };

  function sampleFor(type) {
    return JSON.stringify(SAMPLE_DATA[type] || { example: true }, null, 2);
  }

  // ---------------------------------------------------------------------
  // DOM helpers: the only way this file makes elements.

  // el('a', {href: '#/x', class: 'btn', text: 'Go', on: {click: fn}}, child...)
  // Children are nodes or strings (strings become text nodes).
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    setProps(node, props);
    appendAll(node, children);
    return node;
  }

  // svg('rect', {x: 1, class: 'bar'}, child...) for the chart.
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      guardAttr(k);
      node.setAttribute(k, String(v));
    }
    appendAll(node, children);
    return node;
  }

  // guardAttr refuses attributes that would smuggle in script or inline
  // style, so a slip in this file fails loudly instead of weakening the CSP.
  function guardAttr(name) {
    const n = name.toLowerCase();
    if (n === 'style' || n.startsWith('on') || n === 'srcdoc') {
      throw new Error('console: refusing attribute ' + name);
    }
  }

  const BOOL_PROPS = ['hidden', 'disabled', 'checked', 'selected', 'required', 'readOnly', 'multiple', 'open', 'noValidate'];

  function setProps(node, props) {
    if (!props) return;
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === 'text') node.textContent = String(v);
      else if (k === 'class') node.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
      else if (k === 'value') node.value = String(v);
      else if (BOOL_PROPS.includes(k)) node[k] = Boolean(v);
      else if (k === 'href') {
        // Only links inside the console: a user-typed URL must never
        // become a javascript: link.
        const s = String(v);
        if (!s.startsWith('#')) throw new Error('console: refusing href ' + s);
        node.setAttribute('href', s);
      } else {
        guardAttr(k);
        node.setAttribute(k, String(v));
      }
    }
  }

  function appendAll(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  // fill replaces a node's children; unlike replaceChildren it skips
  // null and false, which would otherwise show as the text "null".
  function fill(node, ...children) {
    node.replaceChildren();
    appendAll(node, children);
    return node;
  }

  const $ = (sel, root) => (root || document).querySelector(sel);

  // ---------------------------------------------------------------------
  // Formatting

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toLocaleString(undefined, {
      year: 'numeric', month: 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  // fmtShort is a local time without the date when it is today.
  function fmtShort(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    if (d.toDateString() === new Date().toDateString()) {
      return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    return fmtTime(iso);
  }

  // timeEl shows a local time, with the exact UTC time on hover.
  function timeEl(iso) {
    return el('time', { datetime: iso || '', title: iso || '', text: fmtTime(iso) });
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '—';
    const n = Number(ms);
    return (Number.isInteger(n) ? n : n.toFixed(1)) + ' ms';
  }

  function fmtBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }

  // prettyBody pretty-prints JSON text and leaves anything else alone.
  function prettyBody(text) {
    if (text === null || text === undefined) return '';
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      return String(text);
    }
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many || one + 's');
  }

  // toLocalInput formats a Date for <input type="datetime-local">.
  function toLocalInput(d) {
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  // ---------------------------------------------------------------------
  // The API

  class ApiError extends Error {
    constructor(status, body, fallback) {
      const msg = (body && body.message) || fallback || 'HTTP ' + status;
      super(msg);
      this.status = status;
      this.details = (body && Array.isArray(body.details)) ? body.details : [];
      this.sessionEnded = false;
    }
  }

  function authHeaders(extra) {
    const h = Object.assign({}, extra);
    if (state.token) h.Authorization = 'Bearer ' + state.token;
    return h;
  }

  // api calls the JSON API. body is an object (sent as JSON), or
  // {raw: 'json text'} to send text exactly as typed (so a payload's
  // number forms and key order reach the receiver as written).
  async function api(method, path, body, opts) {
    const init = {
      method,
      headers: authHeaders({ Accept: 'application/json' }),
      cache: 'no-store',
      signal: opts && opts.signal,
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = (body && typeof body.raw === 'string') ? body.raw : JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(0, null, 'webhookd did not answer (' + err.message + '); is it running?');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (res.status === 401 && state.token && path !== LOGIN_PATH) {
      const e = new ApiError(401, data);
      e.sessionEnded = true;
      endSession('Your session ended (' + e.message + '). Sign in again.');
      throw e;
    }
    if (!res.ok) throw new ApiError(res.status, data, text.slice(0, 200));
    return data;
  }

  const enc = encodeURIComponent;

  async function eventTypes() {
    if (!state.eventTypes) {
      const r = await api('GET', '/api/v1/event-types');
      state.eventTypes = (r && r.data) || [];
    }
    return state.eventTypes;
  }

  // ---------------------------------------------------------------------
  // Server-Sent Events over fetch. EventSource cannot send an
  // Authorization header, and the token must not go in a URL (it would
  // land in logs), so the stream is read with fetch and parsed here.

  // readEventStream reads one response body to its end and calls
  // onEvent(type, data) for each complete frame.
  async function readEventStream(res, onEvent) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let type = '';
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          // A blank line ends a frame; a frame without data is not an
          // event (as in the EventSource specification).
          if (data.length) onEvent(type || 'message', data.join('\n'));
          type = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue; // a comment: the keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') type = val;
        else if (field === 'data') data.push(val);
        // id and retry are not needed: after a reconnect the page
        // reloads its list, which covers anything missed.
      }
    }
  }

  // openLive keeps a stream open for as long as signal lives, reconnecting
  // with backoff. handlers: onReady(first) after each (re)connection,
  // onEvent(type, payload) per event, onState(state, text) for the
  // indicator.
  function openLive(path, signal, handlers) {
    let delay = 1000;
    let connections = 0;
    (async function loop() {
      while (!signal.aborted) {
        let problem = 'the stream ended';
        handlers.onState('connecting', 'connecting…');
        try {
          const res = await fetch(path, {
            headers: authHeaders({ Accept: 'text/event-stream' }),
            cache: 'no-store',
            signal,
          });
          if (res.status === 401) {
            endSession('Your session ended. Sign in again.');
            return;
          }
          if (!res.ok) {
            const text = await res.text();
            let body = null;
            try { body = JSON.parse(text); } catch (_) { /* not JSON */ }
            throw new ApiError(res.status, body, 'HTTP ' + res.status);
          }
          await readEventStream(res, (type, data) => {
            let payload = null;
            try { payload = JSON.parse(data); } catch (_) { return; }
            try {
              if (type === 'ready') {
                delay = 1000;
                handlers.onState('live', 'live');
                handlers.onReady(connections++ === 0);
              } else {
                handlers.onEvent(type, payload);
              }
            } catch (err) {
              // A rendering bug must not take the stream down with it.
              console.error('console: live event', type, err);
            }
          });
        } catch (err) {
          if (signal.aborted) return;
          problem = err.message;
        }
        if (signal.aborted) return;
        handlers.onState('retrying', 'reconnecting in ' + Math.round(delay / 1000) + ' s (' + problem + ')');
        if (handlers.onDown) handlers.onDown();
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 30000);
      }
    })();
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  // liveIndicator is the small "● live" badge next to a live list.
  function liveIndicator(id) {
    const node = el('span', { id, class: 'live live-connecting', text: 'connecting…', 'aria-live': 'polite' });
    node.set = (st, text) => {
      node.className = 'live live-' + st;
      node.textContent = st === 'live' ? 'live' : text;
      node.dataset.state = st;
    };
    return node;
  }

  // ---------------------------------------------------------------------
  // Shared UI pieces

  let flashTimer = 0;

  // flash shows a short message at the top; errors stay until dismissed.
  function flash(message, kind) {
    const box = $('#flash');
    clearTimeout(flashTimer);
    fill(box,
      el('span', { text: message }),
      el('button', { type: 'button', class: 'flash-close', 'aria-label': 'Dismiss', text: '×', on: { click: () => { box.hidden = true; } } }),
    );
    box.className = 'flash flash-' + (kind || 'info');
    box.hidden = false;
    if (kind !== 'error') flashTimer = setTimeout(() => { box.hidden = true; }, 5000);
  }

  // errorBox renders an API error: its message and each bad field.
  function errorBox(err) {
    const box = el('div', { class: 'error-box', role: 'alert' }, el('strong', { text: err.message || String(err) }));
    const details = err.details || [];
    // One bad field is already the whole message; several get a list.
    const saysItAll = details.length === 1 && err.message === details[0].field + ': ' + details[0].message;
    if (details.length && !saysItAll) {
      box.append(el('ul', null, details.map((d) => el('li', null, el('code', { text: d.field }), ': ', d.message))));
    }
    if (err.status === 0 || err.status >= 500) {
      box.append(el('p', { class: 'muted', text: 'Check webhookd\'s own log for the cause.' }));
    }
    return box;
  }

  // showFormError puts err in the form's error area and marks the named
  // fields (inputs carry data-field="url" and so on).
  function showFormError(form, err) {
    if (err.sessionEnded || err.name === 'AbortError') return;
    const area = $('.form-error', form);
    for (const f of form.querySelectorAll('.field-error')) f.remove();
    for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
    fill(area, errorBox(err));
    area.hidden = false;
    for (const d of err.details || []) {
      // "events[2]" or "headers.X-Foo" belong to the events or headers input.
      const name = String(d.field).split(/[.[]/)[0];
      const input = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
      if (!input) continue;
      input.setAttribute('aria-invalid', 'true');
      const holder = input.closest('.field') || input.parentElement;
      holder.append(el('div', { class: 'field-error', text: d.message }));
    }
  }

  function clearFormError(form) {
    const area = $('.form-error', form);
    area.replaceChildren();
    area.hidden = true;
    for (const f of form.querySelectorAll('.field-error')) f.remove();
    for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
  }

  function badge(text, kind, extra) {
    return el('span', Object.assign({ class: 'badge badge-' + kind, text }, extra));
  }

  function webhookState(w) {
    if (w.disabledReason) return ['disabled', 'danger'];
    if (!w.isActive) return ['paused', 'warn'];
    return ['active', 'ok'];
  }

  function field(label, input, hint) {
    return el('label', { class: 'field' },
      el('span', { class: 'field-label', text: label }),
      input,
      hint ? el('span', { class: 'field-hint', text: hint }) : null);
  }

  function card(title, id, ...body) {
    return el('section', { class: 'card', id },
      title ? el('h2', { class: 'card-title', text: title }) : null,
      body);
  }

  // busy disables a button while work runs, so a double click does not
  // send twice.
  async function busy(button, label, work) {
    const old = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.textContent = old;
    }
  }

  async function copyText(text, button) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        // Plain http on a non-local host has no clipboard API.
        const ta = el('textarea', { class: 'offscreen', readOnly: true, value: text });
        document.body.append(ta);
        ta.select();
        document.execCommand('copy');
        ta.remove();
      }
      const old = button.textContent;
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = old; }, 1500);
    } catch (err) {
      flash('Could not copy: ' + err.message + '. Select the text and copy it by hand.', 'error');
    }
  }

  function copyButton(getText, id) {
    return el('button', {
      type: 'button', class: 'btn btn-small', id, text: 'Copy',
      on: { click: (e) => copyText(getText(), e.currentTarget) },
    });
  }

  function emptyRow(cols, text) {
    return el('tr', { class: 'empty' }, el('td', { colspan: cols, text }));
  }

  // headerTable shows headers ({name: value} or {name: [values]}) sorted
  // by name.
  function headerTable(headers) {
    const names = Object.keys(headers || {}).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    if (!names.length) return el('p', { class: 'muted', text: 'No headers.' });
    return el('table', { class: 'kv' }, el('tbody', null, names.map((n) => {
      const v = headers[n];
      return el('tr', null, el('th', { text: n }), el('td', null, el('code', { text: Array.isArray(v) ? v.join(', ') : v })));
    })));
  }

  // bodyBlock shows a body pretty-printed, with a toggle to the exact
  // bytes (the signature is over those).
  function bodyBlock(text, cls) {
    const pretty = prettyBody(text);
    const pre = el('pre', { class: ['body', cls], text: pretty });
    if (pretty === text) return pre;
    let raw = false;
    const toggle = el('button', {
      type: 'button', class: 'btn btn-small btn-quiet', text: 'Show raw',
      on: {
        click: () => {
          raw = !raw;
          pre.textContent = raw ? text : pretty;
          toggle.textContent = raw ? 'Show pretty' : 'Show raw';
        },
      },
    });
    return el('div', { class: 'body-block' }, toggle, pre);
  }

  // ---------------------------------------------------------------------
  // Sessions

  function showNav(on) {
    $('#nav').hidden = !on;
    $('#nav-user').textContent = on && state.user ? state.user.email : '';
  }

  function endSession(message) {
    state.token = null;
    state.user = null;
    state.eventTypes = null;
    clearTimeout(state.expiryTimer);
    showNav(false);
    if (message) flash(message, 'error');
    route();
  }

  function renderLogin() {
    const root = startPage('login-page', 'narrow');
    const email = el('input', { id: 'login-email', type: 'email', autocomplete: 'username', required: true, 'data-field': 'email' });
    const password = el('input', { id: 'login-password', type: 'password', autocomplete: 'current-password', required: true, 'data-field': 'password' });
    const submit = el('button', { type: 'submit', id: 'login-submit', class: 'btn btn-primary', text: 'Sign in' });
    const form = el('form', { id: 'login-form', class: 'form', noValidate: true },
      field('Email', email),
      field('Password', password),
      el('div', { class: 'form-error', hidden: true }),
      el('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormError(form);
      try {
        const r = await busy(submit, 'Signing in…', () =>
          api('POST', LOGIN_PATH, { email: email.value.trim(), password: password.value }));
        state.token = r.accessToken;
        state.user = r.user;
        // Sign out a little before the token expires rather than fail
        // mid-action.
        const ms = Math.max(0, (r.expiresIn || 0) * 1000 - 30000);
        if (ms) state.expiryTimer = setTimeout(() => endSession('Your session expired. Sign in again.'), Math.min(ms, 2147483647));
        showNav(true);
        if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/webhooks';
        else route();
      } catch (err) {
        showFormError(form, err);
        password.select();
      }
    });
    root.append(
      el('h1', { text: 'Sign in' }),
      el('p', { class: 'muted' },
        'Use the same email and password as ', el('code', { text: 'POST /api/v1/auth/login' }),
        '. On its first start webhookd printed the password of ', el('code', { text: 'admin@localhost' }), '.'),
      form,
      el('p', { class: 'muted small', text: 'The console keeps your access token in this tab\'s memory only: reloading the page signs you out.' }));
    email.focus();
  }

  // ---------------------------------------------------------------------
  // Pages

  // startPage ends the previous page (its fetches and streams) and gives
  // the new one a fresh root element.
  function startPage(id, cls) {
    page.abort.abort();
    page = { abort: new AbortController() };
    const root = el('div', { id, class: ['page', cls] });
    $('#app').replaceChildren(root);
    window.scrollTo(0, 0);
    return root;
  }

  function pageError(root, err) {
    if (err.sessionEnded || err.name === 'AbortError' || page.abort.signal.aborted) return;
    root.append(errorBox(err));
  }

  // --- Webhook list ------------------------------------------------------

  async function renderWebhookList() {
    const root = startPage('webhooks-page');
    const signal = page.abort.signal;
    const tbody = el('tbody', { id: 'webhook-rows' }, emptyRow(5, 'Loading…'));
    const more = el('button', { type: 'button', class: 'btn', id: 'webhooks-more', text: 'Load more', hidden: true });
    root.append(
      el('div', { class: 'page-head' },
        el('h1', { text: 'Webhooks' }),
        el('a', { class: 'btn btn-primary', href: '#/webhooks/new', id: 'new-webhook', text: 'New webhook' })),
      el('div', { class: 'table-wrap' },
        el('table', { class: 'table', id: 'webhook-table' },
          el('thead', null, el('tr', null, ['Name', 'URL', 'Events', 'State', 'Created'].map((h) => el('th', { text: h })))),
          tbody)),
      more);

    let cursor = null;
    let first = true;
    async function load() {
      const q = cursor ? '&cursor=' + enc(cursor) : '';
      const r = await api('GET', '/api/v1/webhooks?limit=50' + q, undefined, { signal });
      if (signal.aborted) return;
      if (first) tbody.replaceChildren();
      first = false;
      for (const w of r.data) tbody.append(webhookRow(w));
      if (!tbody.children.length) {
        tbody.append(el('tr', { class: 'empty' }, el('td', { colspan: 5 },
          'No webhooks yet. ', el('a', { href: '#/webhooks/new', text: 'Create one' }),
          ', or open the ', el('a', { href: '#/inbox/demo', text: 'built-in inbox' }),
          ' and point a webhook at it to watch deliveries arrive.')));
      }
      cursor = r.nextCursor;
      more.hidden = !cursor;
    }
    more.addEventListener('click', () => busy(more, 'Loading…', load).catch((err) => pageError(root, err)));
    try {
      await load();
    } catch (err) {
      tbody.replaceChildren();
      pageError(root, err);
    }
  }

  function webhookRow(w) {
    const [st, kind] = webhookState(w);
    return el('tr', { class: 'webhook-row', dataset: { webhookId: w.id } },
      el('td', null, el('a', { href: '#/webhooks/' + enc(w.id), class: 'webhook-name', text: w.name })),
      el('td', { class: 'url' }, el('code', { text: w.url })),
      el('td', null, w.events.map((e) => el('span', { class: 'chip', text: e }))),
      el('td', null, badge(st, kind)),
      el('td', null, timeEl(w.createdAt)));
  }

  // --- Webhook form (new and edit) ---------------------------------------

  async function renderWebhookForm(id, query) {
    const root = startPage('webhook-form-page', 'narrow-wide');
    const signal = page.abort.signal;
    let existing = null;
    let types;
    try {
      [types, existing] = await Promise.all([
        eventTypes(),
        id ? api('GET', '/api/v1/webhooks/' + enc(id), undefined, { signal }) : Promise.resolve(null),
      ]);
    } catch (err) {
      return pageError(root, err);
    }
    if (signal.aborted) return;

    const w = existing || {
      name: '', url: query.get('url') || '', events: [], description: '', headers: {},
      rateLimit: 0, timeoutSeconds: 0, isActive: true,
    };
    const name = el('input', { id: 'wh-name', type: 'text', maxlength: 255, value: w.name, 'data-field': 'name', required: true });
    const url = el('input', { id: 'wh-url', type: 'url', inputmode: 'url', value: w.url, 'data-field': 'url', required: true, placeholder: 'https://example.com/webhooks' });
    const choices = ['*'].concat(types);
    const known = new Set(choices);
    const events = el('fieldset', { class: 'field events', 'data-field': 'events' },
      el('legend', { class: 'field-label', text: 'Events' }),
      el('div', { class: 'checks' }, choices.map((t) => el('label', { class: 'check' },
        el('input', { type: 'checkbox', name: 'events', value: t, checked: w.events.includes(t) }),
        el('code', { text: t }),
        t === '*' ? el('span', { class: 'muted', text: ' every event' }) : null))));
    const patterns = el('input', {
      id: 'wh-patterns', type: 'text', value: w.events.filter((e) => !known.has(e)).join(', '),
      placeholder: 'message.*, campaign.*',
    });
    const description = el('textarea', { id: 'wh-description', rows: 2, maxlength: 2000, 'data-field': 'description', value: w.description || '' });
    const secret = el('input', { id: 'wh-secret', type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-field': 'secret', placeholder: 'leave empty to generate whsec_…' });
    const headers = el('textarea', {
      id: 'wh-headers', rows: 3, 'data-field': 'headers', spellcheck: 'false',
      value: Object.entries(w.headers || {}).map(([k, v]) => k + ': ' + v).join('\n'),
      placeholder: 'Authorization: Bearer receiver-token',
    });
    const rateLimit = el('input', { id: 'wh-rate-limit', type: 'number', min: 0, max: 10000, value: w.rateLimit || 0, 'data-field': 'rateLimit' });
    const timeout = el('input', { id: 'wh-timeout', type: 'number', min: 0, max: 30, value: w.timeoutSeconds || 0, 'data-field': 'timeoutSeconds' });
    const active = el('input', { id: 'wh-active', type: 'checkbox', checked: w.isActive, 'data-field': 'isActive' });
    const save = el('button', { type: 'submit', id: 'wh-save', class: 'btn btn-primary', text: existing ? 'Save changes' : 'Create webhook' });
    const cancel = el('a', { class: 'btn', href: existing ? '#/webhooks/' + enc(existing.id) : '#/webhooks', text: 'Cancel' });

    const form = el('form', { id: 'webhook-form', class: 'form', noValidate: true },
      field('Name', name),
      field('URL', url, 'Where deliveries are POSTed. This webhookd\'s own inbox (' + location.origin + '/inbox/NAME) is always allowed.'),
      events,
      field('More patterns', patterns, 'Comma-separated, such as message.* (one trailing wildcard).'),
      field('Description', description),
      existing ? null : field('Secret', secret, 'Optional. Signs every delivery; shown on the webhook\'s page.'),
      field('Custom headers', headers, 'One per line, "Name: value". Sent with every delivery.'),
      el('div', { class: 'row' },
        field('Rate limit (deliveries/s, 0 = none)', rateLimit),
        field('Timeout (seconds, 0 = default)', timeout)),
      el('label', { class: 'check' }, active, ' Active (unticked: paused, deliveries wait)'),
      el('div', { class: 'form-error', hidden: true }),
      el('div', { class: 'actions' }, save, cancel));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormError(form);
      let body;
      try {
        body = {
          name: name.value,
          url: url.value.trim(),
          events: [...form.querySelectorAll('input[name="events"]:checked')].map((c) => c.value)
            .concat(patterns.value.split(',').map((s) => s.trim()).filter(Boolean)),
          description: description.value,
          headers: parseHeaderLines(headers.value),
          rateLimit: Number(rateLimit.value || 0),
          timeoutSeconds: Number(timeout.value || 0),
          isActive: active.checked,
        };
        if (!existing && secret.value.trim()) body.secret = secret.value.trim();
      } catch (err) {
        return showFormError(form, err);
      }
      try {
        const saved = await busy(save, 'Saving…', () => existing
          ? api('PATCH', '/api/v1/webhooks/' + enc(existing.id), body, { signal })
          : api('POST', '/api/v1/webhooks', body, { signal }));
        flash(existing ? 'Saved.' : 'Webhook created. Send it a test event below.', 'ok');
        location.hash = '#/webhooks/' + enc(saved.id);
      } catch (err) {
        showFormError(form, err);
      }
    });

    root.append(
      el('div', { class: 'page-head' },
        el('h1', { text: existing ? 'Edit webhook' : 'New webhook' }),
        existing ? el('span', { class: 'subtitle', text: existing.name }) : null),
      card(null, null, form));
    name.focus();
  }

  // parseHeaderLines reads "Name: value" lines into an object.
  function parseHeaderLines(text) {
    const out = {};
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) {
        const e = new ApiError(400, {
          message: 'headers: line ' + (i + 1) + ' is not "Name: value"',
          details: [{ field: 'headers', message: 'line ' + (i + 1) + ' is not "Name: value"' }],
        });
        throw e;
      }
      out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    return out;
  }

  // --- Webhook detail ----------------------------------------------------

  async function renderWebhookDetail(id) {
    const root = startPage('webhook-detail');
    const signal = page.abort.signal;
    let w, types;
    try {
      [w, types] = await Promise.all([api('GET', '/api/v1/webhooks/' + enc(id), undefined, { signal }), eventTypes()]);
    } catch (err) {
      if (err.status === 404) {
        root.append(el('h1', { text: 'Webhook not found' }), el('p', null, 'It may have been deleted. ', el('a', { href: '#/webhooks', text: 'Back to webhooks' })));
        return;
      }
      return pageError(root, err);
    }
    if (signal.aborted) return;

    const ctx = { w, types, signal, root };
    const head = el('div', { class: 'page-head' });
    root.append(
      head,
      el('div', { class: 'grid-2' }, settingsCard(ctx), testCard(ctx)),
      statsCard(ctx),
      logCard(ctx),
      el('div', { class: 'grid-2' }, replayCard(ctx), dangerCard(ctx)));
    ctx.renderHead = () => renderDetailHead(head, ctx);
    ctx.renderHead();
  }

  function renderDetailHead(head, ctx) {
    const w = ctx.w;
    const [st, kind] = webhookState(w);
    const toggle = el('button', {
      type: 'button', id: 'wh-toggle', class: 'btn',
      text: w.isActive ? 'Pause' : (w.disabledReason ? 'Re-enable' : 'Resume'),
    });
    toggle.addEventListener('click', async () => {
      try {
        const next = !ctx.w.isActive;
        ctx.w = await busy(toggle, next ? 'Resuming…' : 'Pausing…', () =>
          api('PATCH', '/api/v1/webhooks/' + enc(w.id), { isActive: next }, { signal: ctx.signal }));
        flash(next ? 'Resumed: waiting deliveries go out now.' : 'Paused: new events are not queued for it and queued deliveries wait.', 'ok');
        renderDetailHead(head, ctx);
      } catch (err) {
        if (!err.sessionEnded && err.name !== 'AbortError') flash(err.message, 'error');
      }
    });
    fill(head,
      el('div', { class: 'title-block' },
        el('a', { href: '#/webhooks', class: 'back', text: '← Webhooks' }),
        el('h1', { id: 'wh-title', text: w.name }),
        badge(st, kind, { id: 'wh-state' })),
      el('div', { class: 'actions' },
        el('a', { class: 'btn', id: 'wh-edit', href: '#/webhooks/' + enc(w.id) + '/edit', text: 'Edit' }),
        toggle));
    if (w.disabledReason) {
      head.append(el('div', { class: 'banner banner-danger' },
        el('strong', { text: 'Disabled by webhookd ' }), timeEl(w.disabledAt), ': ', w.disabledReason,
        '. Fix the receiver, then re-enable it; replay what failed below.'));
    }
  }

  function settingsCard(ctx) {
    const w = ctx.w;
    let shown = false;
    const masked = () => (w.secret.startsWith('whsec_') ? 'whsec_' : '') + '••••••••••••';
    const secret = el('code', { id: 'wh-secret', class: 'secret', text: masked() });
    const show = el('button', { type: 'button', class: 'btn btn-small', id: 'secret-show', text: 'Show' });
    show.addEventListener('click', () => {
      shown = !shown;
      secret.textContent = shown ? w.secret : masked();
      show.textContent = shown ? 'Hide' : 'Show';
    });
    const rotate = el('button', { type: 'button', class: 'btn btn-small', id: 'secret-rotate', text: 'Rotate…' });
    const rotateBox = el('div', { class: 'confirm', hidden: true });
    rotate.addEventListener('click', () => {
      fill(rotateBox,
        el('p', { text: 'Rotate the secret? The current one keeps signing beside the new one for the grace period (24 h by default), so receivers can switch without rejecting deliveries.' }),
        el('div', { class: 'actions' },
          el('button', {
            type: 'button', class: 'btn btn-primary', id: 'secret-rotate-yes', text: 'Rotate now',
            on: {
              click: async (e) => {
                try {
                  const r = await busy(e.currentTarget, 'Rotating…', () =>
                    api('POST', '/api/v1/webhooks/' + enc(w.id) + '/rotate-secret', {}, { signal: ctx.signal }));
                  w.secret = r.secret;
                  shown = true;
                  secret.textContent = w.secret;
                  show.textContent = 'Hide';
                  rotateBox.hidden = true;
                  flash(r.previousSecretExpiresAt
                    ? 'New secret in place; the old one keeps signing until ' + fmtTime(r.previousSecretExpiresAt) + '.'
                    : 'New secret in place; the old one stopped at once.', 'ok');
                } catch (err) {
                  if (!err.sessionEnded) flash(err.message, 'error');
                }
              },
            },
          }),
          el('button', { type: 'button', class: 'btn', text: 'Cancel', on: { click: () => { rotateBox.hidden = true; } } })));
      rotateBox.hidden = false;
    });

    const rows = [
      ['URL', el('code', { class: 'url', id: 'wh-url-text', text: w.url })],
      ['Events', w.events.map((e) => el('span', { class: 'chip', text: e }))],
      ['Secret', el('div', { class: 'secret-row' }, secret, show, copyButton(() => w.secret, 'secret-copy'), rotate)],
      ['Description', w.description ? w.description : el('span', { class: 'muted', text: '—' })],
      ['Custom headers', Object.keys(w.headers || {}).length ? headerTable(w.headers) : el('span', { class: 'muted', text: 'none' })],
      ['Rate limit', w.rateLimit ? w.rateLimit + ' deliveries/s' : 'none'],
      ['Timeout', w.timeoutSeconds ? w.timeoutSeconds + ' s' : 'server default'],
      ['Created', timeEl(w.createdAt)],
      ['Updated', timeEl(w.updatedAt)],
      ['Id', el('code', { text: w.id })],
    ];
    return card('Settings', 'settings-card',
      el('dl', { class: 'dl' }, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', null, v)])),
      rotateBox);
  }

  function testCard(ctx) {
    const w = ctx.w;
    const types = ['webhook.test'].concat(ctx.types.filter((t) => t !== 'webhook.test'));
    const select = el('select', { id: 'test-event-type', 'data-field': 'eventType' },
      types.map((t) => el('option', { value: t, text: t })));
    const payload = el('textarea', { id: 'test-payload', rows: 6, spellcheck: 'false', 'data-field': 'payload', value: sampleFor('webhook.test') });
    let edited = false;
    payload.addEventListener('input', () => { edited = true; });
    select.addEventListener('change', () => { if (!edited) payload.value = sampleFor(select.value); });
    const send = el('button', { type: 'submit', id: 'test-send', class: 'btn btn-primary', text: 'Send test event' });
    const result = el('div', { id: 'test-result', class: 'result', hidden: true });
    const form = el('form', { id: 'test-form', class: 'form', noValidate: true },
      field('Event type', select),
      field('Payload (JSON, sent as the envelope\'s data)', payload),
      el('div', { class: 'form-error', hidden: true }),
      el('div', { class: 'actions' }, send),
      result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormError(form);
      const raw = payload.value.trim() || '{}';
      try {
        JSON.parse(raw);
      } catch (err) {
        return showFormError(form, new ApiError(400, { message: 'payload: not valid JSON: ' + err.message, details: [{ field: 'payload', message: 'not valid JSON' }] }));
      }
      try {
        const r = await busy(send, 'Sending…', () => api('POST', '/api/v1/webhooks/' + enc(w.id) + '/test',
          { raw: '{"eventType":' + JSON.stringify(select.value) + ',"payload":' + raw + '}' }, { signal: ctx.signal }));
        fill(result,
          el('div', { class: 'result-line' },
            r.success ? badge('delivered', 'ok') : badge('failed', 'danger'),
            ' ', r.statusCode === null ? 'no answer' : 'HTTP ' + r.statusCode,
            ' in ', fmtMs(r.responseTimeMs)),
          r.error ? el('div', { class: 'error-text', text: r.error }) : null,
          r.responseBody ? el('details', null, el('summary', { text: 'Response body' }), bodyBlock(r.responseBody)) : null);
        result.hidden = false;
        // The attempt shows in the log through the live stream; if that
        // is down, reload the list so it shows anyway.
        if (ctx.logNeedsReload) ctx.logNeedsReload();
      } catch (err) {
        showFormError(form, err);
      }
    });
    return card('Send test event', 'test-card',
      el('p', { class: 'muted small', text: 'One signed delivery now, logged with "test" and never retried. Works while paused.' }),
      form);
  }

  // --- Stats panel and chart ---------------------------------------------

  function statsCard(ctx) {
    const numbers = el('div', { class: 'stats', id: 'stats-numbers' }, el('p', { class: 'muted', text: 'Loading…' }));
    const chart = el('div', { class: 'chart-wrap', id: 'stats-chart' });
    const section = card('Last 24 hours', 'stats-card', numbers, chart,
      el('div', { class: 'legend' },
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch swatch-rate' }), 'success rate (left axis)'),
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch swatch-latency' }), 'average latency (right axis)')));
    let timer = 0;
    let running = false;
    async function refresh() {
      if (running) { timer = setTimeout(refresh, 500); return; }
      running = true;
      try {
        const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
        const base = '/api/v1/webhooks/' + enc(ctx.w.id);
        const [all, day, series] = await Promise.all([
          api('GET', base + '/stats', undefined, { signal: ctx.signal }),
          api('GET', base + '/stats?since=' + enc(since), undefined, { signal: ctx.signal }),
          api('GET', base + '/stats/series?hours=24', undefined, { signal: ctx.signal }).catch((err) => {
            if (err.sessionEnded || err.name === 'AbortError') throw err;
            return { error: err };
          }),
        ]);
        if (ctx.signal.aborted) return;
        fill(numbers, ...statNumbers(all, day));
        fill(chart, series.error
          ? el('p', { class: 'muted', text: 'Chart unavailable: ' + series.error.message })
          : drawChart(series));
      } catch (err) {
        if (!err.sessionEnded && err.name !== 'AbortError' && !ctx.signal.aborted) fill(numbers, errorBox(err));
      } finally {
        running = false;
      }
    }
    // New attempts arrive in bursts; redraw at most once a second.
    ctx.refreshStats = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 1000);
    };
    refresh();
    return section;
  }

  function statNumbers(all, day) {
    const stat = (label, value, id, kind) => el('div', { class: ['stat', kind && 'stat-' + kind], id },
      el('div', { class: 'stat-value', text: value }),
      el('div', { class: 'stat-label', text: label }));
    const rateKind = day.totalDeliveries === 0 ? null : day.successRate >= 99 ? 'ok' : day.successRate >= 90 ? 'warn' : 'danger';
    return [
      stat('attempts (24 h)', String(day.totalDeliveries), 'stat-total'),
      stat('success rate (24 h)', day.totalDeliveries ? day.successRate.toFixed(1) + ' %' : '—', 'stat-rate', rateKind),
      stat('average latency (24 h)', day.totalDeliveries ? fmtMs(day.averageResponseTimeMs) : '—', 'stat-avg'),
      stat('p95 latency (last 1,000)', all.totalDeliveries ? fmtMs(all.p95ResponseTimeMs) : '—', 'stat-p95'),
      stat('pending deliveries', String(all.pendingDeliveries), 'stat-pending', all.pendingDeliveries ? 'warn' : null),
      stat('failures in a row', String(all.consecutiveFailures), 'stat-streak', all.consecutiveFailures ? 'danger' : null),
      stat('all-time attempts', String(all.totalDeliveries) + ' (' + all.failedDeliveries + ' failed)', 'stat-alltime'),
      stat('last attempt', all.lastDeliveryAt ? fmtShort(all.lastDeliveryAt) : 'never', 'stat-last'),
    ];
  }

  // niceCeil rounds up to 1, 2 or 5 times a power of ten, for an axis.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // drawChart draws success rate (line, left axis 0–100 %) and average
  // latency (bars, right axis) per bucket as inline SVG. Every label is
  // an SVG <text> with textContent; hovering a column shows its numbers
  // through a <title>.
  function drawChart(series) {
    const buckets = (series && series.buckets) || [];
    const W = 760, H = 250;
    const M = { l: 52, r: 64, t: 16, b: 36 };
    const pw = W - M.l - M.r, ph = H - M.t - M.b;
    const n = Math.max(buckets.length, 1);
    const bw = pw / n;
    const maxLat = niceCeil(Math.max(0, ...buckets.map((b) => b.avgDurationMs || 0)));
    const x = (i) => M.l + bw * (i + 0.5);
    const yRate = (r) => M.t + ph * (1 - Math.min(1, Math.max(0, r)));
    const yLat = (ms) => M.t + ph * (1 - Math.min(1, ms / maxLat));
    const hour = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    const total = buckets.reduce((s, b) => s + (b.total || 0), 0);

    const root = svg('svg', {
      viewBox: '0 0 ' + W + ' ' + H, class: 'chart', id: 'stats-svg', role: 'img',
      'aria-label': 'Success rate and average latency per ' + Math.round((series.bucketSeconds || 3600) / 60) + ' minutes over the last 24 hours',
      preserveAspectRatio: 'xMidYMid meet',
    });
    root.append(svg('title', null, 'Success rate and average latency, last 24 hours'));

    // Grid and both axes' labels.
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const y = M.t + ph * (1 - f);
      root.append(
        svg('line', { x1: M.l, x2: M.l + pw, y1: y, y2: y, class: f === 0 ? 'axis' : 'grid' }),
        svg('text', { x: M.l - 8, y: y + 4, class: 'tick tick-left', 'text-anchor': 'end' }, Math.round(f * 100) + '%'),
        svg('text', { x: M.l + pw + 8, y: y + 4, class: 'tick tick-right', 'text-anchor': 'start' }, fmtTick(maxLat * f)));
    }
    root.append(
      svg('text', { x: 12, y: M.t + ph / 2, class: 'axis-title', 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (M.t + ph / 2) + ')' }, 'success'),
      svg('text', { x: W - 10, y: M.t + ph / 2, class: 'axis-title', 'text-anchor': 'middle', transform: 'rotate(90 ' + (W - 10) + ' ' + (M.t + ph / 2) + ')' }, 'avg latency'));

    // Latency bars.
    buckets.forEach((b, i) => {
      if (b.avgDurationMs === null || b.avgDurationMs === undefined) return;
      const y = yLat(b.avgDurationMs);
      root.append(svg('rect', {
        x: (M.l + bw * i + bw * 0.2).toFixed(1), width: (bw * 0.6).toFixed(1),
        y: y.toFixed(1), height: Math.max(1, M.t + ph - y).toFixed(1), class: 'bar-latency',
      }, svg('title', null, bucketText(b, hour))));
    });

    // Success-rate line, broken over empty buckets (no attempts is not
    // 0 %).
    let d = '';
    let pen = false;
    buckets.forEach((b, i) => {
      if (b.successRate === null || b.successRate === undefined) { pen = false; return; }
      d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + yRate(b.successRate).toFixed(1) + ' ';
      pen = true;
    });
    if (d) root.append(svg('path', { d: d.trim(), class: 'line-rate' }));
    buckets.forEach((b, i) => {
      if (b.successRate === null || b.successRate === undefined) return;
      root.append(svg('circle', {
        cx: x(i).toFixed(1), cy: yRate(b.successRate).toFixed(1), r: 3.5,
        class: b.successRate < 1 ? 'point-rate point-bad' : 'point-rate',
      }, svg('title', null, bucketText(b, hour))));
    });

    // Time labels, every 4 buckets, and the "now" edge.
    buckets.forEach((b, i) => {
      if (i % 4 !== 0) return;
      root.append(svg('text', { x: x(i).toFixed(1), y: H - M.b + 18, class: 'tick', 'text-anchor': 'middle' }, hour(b.start)));
    });
    root.append(svg('text', { x: M.l + pw, y: H - 4, class: 'tick', 'text-anchor': 'end' }, 'now'));

    // Hover columns on top, so the whole column shows its numbers.
    buckets.forEach((b, i) => {
      root.append(svg('rect', { x: (M.l + bw * i).toFixed(1), y: M.t, width: bw.toFixed(1), height: ph, class: 'hover-col' },
        svg('title', null, bucketText(b, hour))));
    });

    if (!total) {
      root.append(svg('text', { x: M.l + pw / 2, y: M.t + ph / 2, class: 'chart-empty', 'text-anchor': 'middle' },
        'No attempts in the last 24 hours — send a test event'));
    }
    return root;
  }

  function fmtTick(ms) {
    if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + ' s';
    return (ms < 10 && ms % 1 ? ms.toFixed(1) : Math.round(ms)) + ' ms';
  }

  function bucketText(b, hour) {
    if (!b.total) return hour(b.start) + ': no attempts';
    return hour(b.start) + ': ' + plural(b.total, 'attempt') + ', ' + b.success + ' ok, ' + b.failed + ' failed, ' +
      Math.round(b.successRate * 1000) / 10 + '% success, avg ' + fmtMs(b.avgDurationMs) + ', max ' + fmtMs(b.maxDurationMs);
  }

  // --- Delivery log ------------------------------------------------------

  function logCard(ctx) {
    const w = ctx.w;
    const live = liveIndicator('log-live');
    const status = el('select', { id: 'log-status', 'aria-label': 'Status' },
      el('option', { value: '', text: 'all statuses' }),
      el('option', { value: 'success', text: 'success' }),
      el('option', { value: 'failed', text: 'failed' }));
    const evType = el('select', { id: 'log-event-type', 'aria-label': 'Event type' },
      el('option', { value: '', text: 'all event types' }),
      ['webhook.test'].concat(ctx.types.filter((t) => t !== 'webhook.test')).map((t) => el('option', { value: t, text: t })));
    const refresh = el('button', { type: 'button', class: 'btn btn-small', id: 'log-refresh', text: 'Refresh' });
    const tbody = el('tbody', { id: 'log-body' });
    const more = el('button', { type: 'button', class: 'btn', id: 'log-more', text: 'Load older', hidden: true });
    const problem = el('div', { class: 'log-problem' });

    // rows: log id -> its <tr>, so live events and reloads never show an
    // attempt twice.
    let rows = new Map();
    let cursor = null;
    let stream = null; // the AbortController of the current stream
    let liveState = 'connecting';

    function query() {
      const q = new URLSearchParams();
      if (status.value) q.set('status', status.value);
      if (evType.value) q.set('eventType', evType.value);
      const s = q.toString();
      return s ? '?' + s : '';
    }

    function showEmpty() {
      if (rows.size) return;
      const filtered = status.value || evType.value;
      fill(tbody, emptyRow(6, filtered
        ? 'No deliveries match these filters.'
        : 'No deliveries yet — send a test event above, or publish an event it subscribes to.'));
    }

    // insert adds a log entry in time order (newest first), unless shown.
    function insert(log, source) {
      if (rows.has(log.id)) return false;
      const empty = $('tr.empty', tbody);
      if (empty) empty.remove();
      const row = logRow(ctx, log, source);
      rows.set(log.id, row);
      const key = sortKey(log);
      let before = null;
      for (const r of tbody.querySelectorAll('tr.log-row')) {
        if (r.dataset.sortKey < key) { before = r; break; }
      }
      tbody.insertBefore(row, before);
      if (row.detailRow) tbody.insertBefore(row.detailRow, before);
      return true;
    }

    // load fetches a page of the list; replace=true starts over (filters
    // changed), otherwise entries are merged (after a reconnect).
    async function load(replace) {
      const r = await api('GET', '/api/v1/webhooks/' + enc(w.id) + '/logs' + query() +
        (query() ? '&' : '?') + 'limit=50', undefined, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      if (replace) {
        rows = new Map();
        tbody.replaceChildren();
        cursor = r.nextCursor;
      } else if (cursor === null && !rows.size) {
        cursor = r.nextCursor;
      }
      for (const log of r.data) insert(log, 'list');
      more.hidden = !cursor;
      showEmpty();
    }

    async function loadOlder() {
      const r = await api('GET', '/api/v1/webhooks/' + enc(w.id) + '/logs' + query() + (query() ? '&' : '?') +
        'limit=50&cursor=' + enc(cursor), undefined, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      for (const log of r.data) insert(log, 'list');
      cursor = r.nextCursor;
      more.hidden = !cursor;
    }

    function reloadAll() {
      problem.replaceChildren();
      return load(true).catch((err) => {
        if (!err.sessionEnded && err.name !== 'AbortError' && !ctx.signal.aborted) fill(problem, errorBox(err));
      });
    }

    // connect (re)starts the live stream with the current filters. The
    // list is (re)loaded once the stream is open, so nothing logged in
    // between is missed.
    function connect() {
      if (stream) stream.abort();
      stream = new AbortController();
      const signal = anySignal(ctx.signal, stream.signal);
      fill(tbody, emptyRow(6, 'Loading…'));
      rows = new Map();
      let loaded = false;
      openLive('/api/v1/webhooks/' + enc(w.id) + '/logs/stream' + query(), signal, {
        onState: (st, text) => { liveState = st; live.set(st, text); },
        onReady: (first) => {
          loaded = true;
          if (first) reloadAll();
          else load(false).catch(() => { /* the next reconnect retries */ });
        },
        onDown: () => {
          // Without a stream, still show the list.
          if (!loaded) { loaded = true; reloadAll(); }
        },
        onEvent: (type, payload) => {
          if (type === 'log') {
            if (insert(payload, 'stream')) ctx.refreshStats();
            showEmpty();
          } else if (type === 'overflow') {
            // Too many at once to stream: the list has them all.
            reloadAll();
            ctx.refreshStats();
          }
        },
      });
    }

    ctx.logNeedsReload = () => {
      if (liveState !== 'live') setTimeout(() => { reloadAll(); ctx.refreshStats(); }, 300);
    };

    status.addEventListener('change', connect);
    evType.addEventListener('change', connect);
    refresh.addEventListener('click', () => { reloadAll(); ctx.refreshStats(); });
    more.addEventListener('click', () => busy(more, 'Loading…', loadOlder).catch((err) => {
      if (!err.sessionEnded) fill(problem, errorBox(err));
    }));
    connect();

    return card(null, 'log-card',
      el('div', { class: 'card-head' },
        el('h2', { class: 'card-title', text: 'Deliveries' }), live,
        el('div', { class: 'filters' }, status, evType, refresh)),
      problem,
      el('div', { class: 'table-wrap' },
        el('table', { class: 'table log-table', id: 'log-table' },
          el('thead', null, el('tr', null, ['Time', 'Event', 'Attempt', 'Result', 'Duration', ''].map((h) => el('th', { text: h })))),
          tbody)),
      more);
  }

  // sortKey orders log rows newest first: time, then the (time-ordered)
  // id.
  function sortKey(log) {
    return (log.createdAt || '') + '|' + log.id;
  }

  // anySignal is aborted when either signal is.
  function anySignal(a, b) {
    const c = new AbortController();
    const stop = () => c.abort();
    if (a.aborted || b.aborted) c.abort();
    a.addEventListener('abort', stop, { once: true });
    b.addEventListener('abort', stop, { once: true });
    return c.signal;
  }

  function logRow(ctx, log, source) {
    const ok = log.status === 'success';
    const toggle = el('button', { type: 'button', class: 'btn btn-small log-toggle', 'aria-expanded': 'false', text: 'Details' });
    const redeliver = el('button', { type: 'button', class: 'btn btn-small redeliver', text: 'Redeliver' });
    const row = el('tr', {
      class: ['log-row', ok ? 'is-ok' : 'is-failed', source === 'stream' && 'fresh'],
      dataset: {
        logId: log.id, source, status: log.status, eventType: log.eventType, attempt: log.attempt,
        test: log.test ? 'true' : 'false', deliveryId: log.deliveryId, sortKey: sortKey(log),
      },
    },
    el('td', null, timeEl(log.createdAt)),
    el('td', null, el('code', { text: log.eventType }), log.test ? badge('test', 'info') : null),
    el('td', { class: 'num', text: '#' + log.attempt }),
    el('td', null,
      badge(ok ? 'success' : 'failed', ok ? 'ok' : 'danger'), ' ',
      el('span', { class: 'status-code', text: log.statusCode === null ? 'no answer' : 'HTTP ' + log.statusCode }),
      log.error ? el('div', { class: 'error-text small', text: log.error }) : null,
      log.nextAttemptAt ? el('div', { class: 'muted small' }, 'retry at ', timeEl(log.nextAttemptAt)) : null),
    el('td', { class: 'num', text: fmtMs(log.durationMs) }),
    el('td', { class: 'row-actions' }, toggle, redeliver));

    const detail = el('tr', { class: 'log-detail', hidden: true, dataset: { logId: log.id } }, el('td', { colspan: 6 }));
    row.detailRow = detail;
    let loaded = false;
    toggle.addEventListener('click', async () => {
      const open = detail.hidden;
      detail.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Hide' : 'Details';
      if (!open || loaded) return;
      const cell = detail.firstChild;
      fill(cell, el('p', { class: 'muted', text: 'Loading…' }));
      try {
        const full = await api('GET', '/api/v1/webhooks/' + enc(ctx.w.id) + '/logs/' + enc(log.id), undefined, { signal: ctx.signal });
        loaded = true;
        fill(cell, logDetail(full));
      } catch (err) {
        if (!err.sessionEnded && err.name !== 'AbortError') fill(cell, errorBox(err));
      }
    });
    redeliver.addEventListener('click', async () => {
      try {
        const r = await busy(redeliver, 'Queuing…', () => api('POST',
          '/api/v1/webhooks/' + enc(ctx.w.id) + '/logs/' + enc(log.id) + '/redeliver', undefined, { signal: ctx.signal }));
        flash('Redelivery of ' + r.deliveryId + ' queued; the new attempt appears at the top.', 'ok');
        if (ctx.logNeedsReload) ctx.logNeedsReload();
      } catch (err) {
        if (err.sessionEnded || err.name === 'AbortError') return;
        flash(err.status === 409 ? 'That delivery is being sent right now; try again once its attempt is logged.' : err.message, 'error');
      }
    });
    return row;
  }

  function logDetail(log) {
    return el('div', { class: 'detail-grid' },
      el('div', null,
        el('h3', { text: 'Request' }),
        el('p', { class: 'muted small' }, 'Delivery ', el('code', { text: log.deliveryId }), ' · event ', el('code', { text: log.eventId })),
        headerTable(log.requestHeaders),
        el('h4', { text: 'Body' }),
        bodyBlock(log.requestBody || '', 'request-body')),
      el('div', null,
        el('h3', { text: 'Response' }),
        el('p', null,
          log.statusCode === null ? 'No answer' : 'HTTP ' + log.statusCode, ' after ', fmtMs(log.durationMs)),
        log.error ? el('div', { class: 'error-text', text: log.error }) : null,
        el('h4', { text: 'Body' }),
        log.responseBody === null || log.responseBody === undefined
          ? el('p', { class: 'muted', text: 'none' })
          : bodyBlock(log.responseBody, 'response-body')));
  }

  // --- Replay and delete -------------------------------------------------

  function replayCard(ctx) {
    const since = el('input', { id: 'replay-since', type: 'datetime-local', 'data-field': 'since', value: toLocalInput(new Date(Date.now() - 3600 * 1000)) });
    const until = el('input', { id: 'replay-until', type: 'datetime-local', 'data-field': 'until' });
    const failedOnly = el('input', { id: 'replay-failed', type: 'checkbox', 'data-field': 'status' });
    const submit = el('button', { type: 'submit', id: 'replay-submit', class: 'btn', text: 'Replay' });
    const result = el('div', { id: 'replay-result', class: 'result', hidden: true });
    const form = el('form', { id: 'replay-form', class: 'form', noValidate: true },
      el('div', { class: 'row' }, field('Since', since), field('Until (empty: now)', until)),
      el('label', { class: 'check' }, failedOnly, ' Only deliveries that failed for good'),
      el('div', { class: 'form-error', hidden: true }),
      el('div', { class: 'actions' }, submit),
      result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormError(form);
      const body = {};
      if (since.value) body.since = new Date(since.value).toISOString();
      if (until.value) body.until = new Date(until.value).toISOString();
      if (failedOnly.checked) body.status = 'failed';
      try {
        const r = await busy(submit, 'Queuing…', () => api('POST', '/api/v1/webhooks/' + enc(ctx.w.id) + '/replay', body, { signal: ctx.signal }));
        result.textContent = r.queued
          ? plural(r.queued, 'delivery', 'deliveries') + ' queued again; watch them arrive in the log.'
          : 'Nothing to replay in that window (test sends and deliveries still retrying are left out).';
        result.hidden = false;
        if (r.queued && ctx.logNeedsReload) ctx.logNeedsReload();
      } catch (err) {
        showFormError(form, err);
      }
    });
    return card('Replay', 'replay-card',
      el('p', { class: 'muted small', text: 'Send finished deliveries of a time window again, each with its own delivery id, as for redeliver.' }),
      form);
  }

  function dangerCard(ctx) {
    const del = el('button', { type: 'button', id: 'wh-delete', class: 'btn btn-danger', text: 'Delete webhook…' });
    const confirmBox = el('div', { class: 'confirm', id: 'delete-confirm', hidden: true });
    del.addEventListener('click', () => {
      fill(confirmBox,
        el('p', null, 'Delete ', el('strong', { text: ctx.w.name }), ' with its queued deliveries, logs and statistics? This cannot be undone.'),
        el('div', { class: 'actions' },
          el('button', {
            type: 'button', class: 'btn btn-danger', id: 'delete-yes', text: 'Delete for good',
            on: {
              click: async (e) => {
                try {
                  await busy(e.currentTarget, 'Deleting…', () => api('DELETE', '/api/v1/webhooks/' + enc(ctx.w.id), undefined, { signal: ctx.signal }));
                  flash('Deleted ' + ctx.w.name + '.', 'ok');
                  location.hash = '#/webhooks';
                } catch (err) {
                  if (!err.sessionEnded) flash(err.message, 'error');
                }
              },
            },
          }),
          el('button', { type: 'button', class: 'btn', text: 'Cancel', on: { click: () => { confirmBox.hidden = true; } } })));
      confirmBox.hidden = false;
    });
    return card('Delete', 'danger-card',
      el('p', { class: 'muted small', text: 'To stop deliveries for a while, pause it instead: nothing is lost.' }),
      del, confirmBox);
  }

  // --- Inbox -------------------------------------------------------------

  function renderInbox(name) {
    const root = startPage('inbox-page');
    const signal = page.abort.signal;
    const target = location.origin + '/inbox/' + name;
    const live = liveIndicator('inbox-live');
    const list = el('div', { id: 'inbox-list', class: 'captures' }, el('p', { class: 'muted', text: 'Loading…' }));
    const problem = el('div');
    const switchName = el('input', { id: 'inbox-name', type: 'text', value: name, 'aria-label': 'Inbox name', pattern: INBOX_NAME.source });
    const switchForm = el('form', { class: 'inline-form', id: 'inbox-switch', noValidate: true },
      switchName, el('button', { type: 'submit', class: 'btn btn-small', text: 'Open' }));
    switchForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const n = switchName.value.trim();
      if (!INBOX_NAME.test(n)) return flash('An inbox name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.', 'error');
      location.hash = '#/inbox/' + n;
    });

    root.append(
      el('div', { class: 'page-head' },
        el('div', { class: 'title-block' }, el('h1', null, 'Inbox ', el('code', { id: 'inbox-title', text: name })), live),
        switchForm),
      card(null, 'inbox-target',
        el('p', null, 'Point a webhook at this URL and watch its deliveries arrive here:'),
        el('div', { class: 'secret-row' },
          el('code', { id: 'inbox-url', class: 'url big', text: target }),
          copyButton(() => target, 'inbox-url-copy'),
          el('a', { class: 'btn btn-primary', id: 'inbox-create-webhook', href: '#/webhooks/new?url=' + enc(target), text: 'Create a webhook pointing here' })),
        el('p', { class: 'muted small' },
          'Any request but GET to it is captured (the last 100, in memory until webhookd stops). ',
          'Deliveries of your webhooks are shown to you alone (“verified” when X-Webhook-Signature checks out); anyone else’s requests, to everyone signed in. Try: ',
          el('code', { text: 'curl -X POST ' + target + ' -H "Content-Type: application/json" -d \'{"hello":"inbox"}\'' }))),
      problem,
      list);

    // Captures are told apart by id and time together: ids start again
    // at 1 when webhookd restarts, while this page stays open.
    const shown = new Map(); // id|receivedAt -> element
    function insert(c, source) {
      const key = c.id + '|' + c.receivedAt;
      if (shown.has(key)) return;
      const empty = $('.empty', list);
      if (empty) empty.remove();
      const node = captureItem(c, source);
      shown.set(key, node);
      // Newest first.
      const at = Date.parse(c.receivedAt) || 0;
      node.dataset.at = String(at);
      let before = null;
      for (const n of list.querySelectorAll('.capture')) {
        const nAt = Number(n.dataset.at);
        if (nAt < at || (nAt === at && Number(n.dataset.captureId) < c.id)) { before = n; break; }
      }
      list.insertBefore(node, before);
    }
    function showEmpty() {
      if (shown.size) return;
      fill(list, el('div', { class: 'empty card' },
        el('p', null, el('strong', { text: 'Nothing captured yet.' })),
        el('p', null, el('a', { href: '#/webhooks/new?url=' + enc(target), text: 'Create a webhook pointing here' }),
          ' and send it a test event, or POST anything to the URL above.')));
    }
    async function load(replace) {
      const r = await api('GET', '/api/v1/inboxes/' + enc(name), undefined, { signal });
      if (signal.aborted) return;
      if (replace) { shown.clear(); list.replaceChildren(); }
      for (const c of r.data) insert(c, 'list');
      showEmpty();
    }
    function loadReporting(replace) {
      problem.replaceChildren();
      load(replace).catch((err) => {
        if (err.sessionEnded || err.name === 'AbortError' || signal.aborted) return;
        if (replace) list.replaceChildren();
        fill(problem, errorBox(err));
      });
    }
    let loaded = false;
    openLive('/api/v1/inboxes/' + enc(name) + '/stream', signal, {
      onState: (st, text) => live.set(st, text),
      onReady: (first) => { loaded = true; loadReporting(first); },
      onDown: () => { if (!loaded) { loaded = true; loadReporting(true); } },
      onEvent: (type, c) => { if (type === 'capture') insert(c, 'stream'); },
    });
  }

  function headerValue(headers, name) {
    const key = Object.keys(headers || {}).find((k) => k.toLowerCase() === name.toLowerCase());
    if (!key) return '';
    const v = headers[key];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  function captureItem(c, source) {
    const sigKind = { verified: 'ok', invalid: 'danger', unsigned: 'muted' }[c.signature] || 'muted';
    const event = headerValue(c.headers, 'X-Webhook-Event');
    const deliveryId = headerValue(c.headers, 'X-Webhook-Id');
    const toggle = el('button', { type: 'button', class: 'btn btn-small capture-toggle', 'aria-expanded': 'false', text: 'Details' });
    const detail = el('div', { class: 'capture-detail', hidden: true },
      el('div', { class: 'detail-grid' },
        el('div', null,
          el('h3', { text: 'Headers' }),
          headerTable(c.headers),
          el('p', { class: 'muted small' }, 'From ', el('code', { text: c.remoteAddr }),
            c.webhookId ? [' · verified for webhook ', el('a', { href: '#/webhooks/' + enc(c.webhookId), text: c.webhookId })] : null)),
        el('div', null,
          el('h3', { text: 'Body' }),
          c.truncated ? el('p', { class: 'banner banner-warn', text: 'Truncated: ' + fmtBytes(c.size) + ' received, the start kept (so the signature could not be checked).' }) : null,
          c.bodyBase64
            ? [el('p', { class: 'muted small', text: 'Not UTF-8; shown as base64.' }), el('pre', { class: 'body capture-body', text: c.body })]
            : (c.body ? bodyBlock(c.body, 'capture-body') : el('p', { class: 'muted', text: 'empty' })))));
    toggle.addEventListener('click', () => {
      detail.hidden = !detail.hidden;
      toggle.setAttribute('aria-expanded', String(!detail.hidden));
      toggle.textContent = detail.hidden ? 'Details' : 'Hide';
    });
    return el('article', {
      class: ['capture', 'card', source === 'stream' && 'fresh'],
      dataset: { captureId: c.id, source, signature: c.signature },
    },
    el('div', { class: 'capture-head' },
      el('span', { class: 'method', text: c.method }),
      el('code', { class: 'capture-path', text: c.path + (c.query ? '?' + c.query : '') }),
      badge(c.signature, sigKind, { class: 'badge badge-' + sigKind + ' sig', title: 'X-Webhook-Signature: ' + c.signature }),
      event ? el('code', { class: 'chip', text: event }) : null,
      el('span', { class: 'muted small', text: fmtBytes(c.size) }),
      el('span', { class: 'spacer' }),
      timeEl(c.receivedAt),
      toggle),
    deliveryId ? el('div', { class: 'muted small' }, 'delivery ', el('code', { class: 'delivery-id', text: deliveryId })) : null,
    detail);
  }

  // --- Publish -----------------------------------------------------------

  async function renderPublish() {
    const root = startPage('publish-page', 'narrow-wide');
    const signal = page.abort.signal;
    let types;
    try {
      types = await eventTypes();
    } catch (err) {
      return pageError(root, err);
    }
    if (signal.aborted) return;
    // webhook.disabled is webhookd's own; the API refuses it from anyone
    // else.
    const publishable = types.filter((t) => t !== 'webhook.disabled');
    const select = el('select', { id: 'publish-event', 'data-field': 'event' }, publishable.map((t) => el('option', { value: t, text: t })));
    const data = el('textarea', { id: 'publish-data', rows: 10, spellcheck: 'false', 'data-field': 'data', value: sampleFor(publishable[0]) });
    const key = el('input', { id: 'publish-key', type: 'text', 'data-field': 'idempotencyKey', placeholder: 'optional, such as msg_123' });
    let edited = false;
    data.addEventListener('input', () => { edited = true; });
    select.addEventListener('change', () => { if (!edited) data.value = sampleFor(select.value); });
    const submit = el('button', { type: 'submit', id: 'publish-submit', class: 'btn btn-primary', text: 'Publish' });
    const result = el('div', { id: 'publish-result', class: 'result', hidden: true });
    const curl = el('pre', { class: 'body', id: 'publish-curl' });
    const updateCurl = () => {
      const body = '{"event": ' + JSON.stringify(select.value) + ', "data": ' + (data.value.trim() || '{}') +
        (key.value.trim() ? ', "idempotencyKey": ' + JSON.stringify(key.value.trim()) : '') + '}';
      curl.textContent = 'curl -X POST ' + location.origin + '/api/v1/events \\\n' +
        '  -H "Authorization: Bearer YOUR_ACCESS_TOKEN" \\\n  -H "Content-Type: application/json" \\\n' +
        '  -d \'' + body.replace(/'/g, '\'\\\'\'') + '\'';
    };
    for (const n of [select, data, key]) n.addEventListener('input', updateCurl);
    select.addEventListener('change', updateCurl);
    updateCurl();

    const form = el('form', { id: 'publish-form', class: 'form', noValidate: true },
      field('Event type', select),
      field('Data (JSON)', data, 'Delivered as the envelope\'s data, byte for byte after compaction.'),
      field('Idempotency key', key, 'The same key with the same event and data within 24 hours answers the first event again and creates nothing; with other content it is refused (422).'),
      el('div', { class: 'form-error', hidden: true }),
      el('div', { class: 'actions' }, submit),
      result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormError(form);
      const raw = data.value.trim();
      try {
        JSON.parse(raw);
      } catch (err) {
        return showFormError(form, new ApiError(400, { message: 'data: not valid JSON: ' + err.message, details: [{ field: 'data', message: 'not valid JSON' }] }));
      }
      let body = '{"event":' + JSON.stringify(select.value) + ',"data":' + raw;
      if (key.value.trim()) body += ',"idempotencyKey":' + JSON.stringify(key.value.trim());
      body += '}';
      try {
        const r = await busy(submit, 'Publishing…', () => api('POST', '/api/v1/events', { raw: body }, { signal }));
        fill(result,
          el('p', null, badge('accepted', 'ok'), ' Event ', el('code', { id: 'publish-event-id', text: r.id }), ' (', el('code', { text: r.event }), ') goes to ',
            el('strong', { id: 'publish-deliveries', text: plural(r.deliveries, 'webhook') }), '.'),
          r.deliveries === 0
            ? el('p', { class: 'muted', text: 'No active webhook of yours subscribes to this type. That is not an error.' })
            : el('p', null, 'Watch it arrive on ', el('a', { href: '#/webhooks', text: 'your webhooks\' logs' }), ' or in the ', el('a', { href: '#/inbox/demo', text: 'inbox' }), '.'));
        result.hidden = false;
      } catch (err) {
        showFormError(form, err);
      }
    });

    root.append(
      el('div', { class: 'page-head' }, el('h1', { text: 'Publish event' })),
      card(null, null,
        el('p', { class: 'muted' }, 'What the CRM does with ', el('code', { text: 'POST /api/v1/events' }),
          ': every active webhook of yours whose patterns match gets one signed delivery, retried until it succeeds.'),
        form),
      card('The same with curl', null, curl));
  }

  function renderNotFound() {
    const root = startPage('not-found');
    root.append(el('h1', { text: 'Nothing here' }), el('p', null, el('a', { href: '#/webhooks', text: 'Go to your webhooks' })));
  }

  // ---------------------------------------------------------------------
  // Routing by location.hash

  function route() {
    const hash = location.hash || '#/webhooks';
    const q = hash.indexOf('?');
    const path = q < 0 ? hash : hash.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    if (!state.token) {
      markNav('');
      return renderLogin();
    }
    let m;
    const seg = (s) => {
      try { return decodeURIComponent(s); } catch (_) { return s; }
    };
    if (path === '#/' || path === '#' || /^#\/webhooks\/?$/.test(path)) {
      markNav('webhooks');
      return renderWebhookList();
    }
    if (path === '#/webhooks/new') {
      markNav('webhooks');
      return renderWebhookForm(null, query);
    }
    if ((m = /^#\/webhooks\/([^/]+)\/edit$/.exec(path))) {
      markNav('webhooks');
      return renderWebhookForm(seg(m[1]), query);
    }
    if ((m = /^#\/webhooks\/([^/]+)$/.exec(path))) {
      markNav('webhooks');
      return renderWebhookDetail(seg(m[1]));
    }
    if ((m = /^#\/inbox(?:\/([^/]*))?$/.exec(path))) {
      const name = seg(m[1] || '') || 'demo';
      markNav('inbox');
      if (!INBOX_NAME.test(name)) {
        const root = startPage('inbox-page');
        root.append(errorBox(new Error('"' + name + '" is not an inbox name: 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.')));
        return;
      }
      return renderInbox(name);
    }
    if (path === '#/publish') {
      markNav('publish');
      return renderPublish();
    }
    markNav('');
    return renderNotFound();
  }

  function markNav(which) {
    for (const a of document.querySelectorAll('#nav a[data-nav]')) {
      const on = a.dataset.nav === which;
      a.classList.toggle('active', on);
      if (on) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function init() {
    $('#signout').addEventListener('click', () => {
      endSession();
      flash('Signed out.', 'info');
    });
    window.addEventListener('hashchange', route);
    route();
  }

  init();
})();
