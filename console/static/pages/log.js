// A webhook's delivery log: filters, the list with its details, and the
// live stream that adds attempts as they are logged.

import { api, apiPath, enc } from '../api.js';
import { el, fill } from '../dom.js';
import { fmtMs, timeEl } from '../format.js';
import { LiveList, followLive, liveIndicator } from '../livelist.js';
import { badge, bodyBlock, busy, card, emptyRow, errorBox, flash, headerTable, quiet } from '../ui.js';

// logCard draws the card and sets ctx.logNeedsReload, which the forms
// call after sending.
export function logCard(ctx) {
  const log = new DeliveryLog(ctx);
  ctx.logNeedsReload = () => log.needsReload();
  log.connect();
  return card(null, 'log-card',
    el('div', { class: 'card-head' },
      el('h2', { class: 'card-title', text: 'Deliveries' }), log.live,
      el('div', { class: 'filters' }, log.status, log.evType, log.refresh)),
    log.problem,
    el('div', { class: 'table-wrap' },
      el('table', { class: 'table log-table', id: 'log-table' },
        el('thead', null, el('tr', null, ['Time', 'Event', 'Attempt', 'Result', 'Duration', ''].map((h) => el('th', { text: h })))),
        log.tbody)),
    log.more);
}

function filterSelects(types) {
  return {
    status: el('select', { id: 'log-status', 'aria-label': 'Status' },
      el('option', { value: '', text: 'all statuses' }),
      el('option', { value: 'success', text: 'success' }),
      el('option', { value: 'failed', text: 'failed' })),
    evType: el('select', { id: 'log-event-type', 'aria-label': 'Event type' },
      el('option', { value: '', text: 'all event types' }),
      ['webhook.test'].concat(types.filter((t) => t !== 'webhook.test')).map((t) => el('option', { value: t, text: t }))),
  };
}

// DeliveryLog is the log's elements and what keeps them: a live list of
// attempts under the chosen filters, with a cursor for older pages.
class DeliveryLog {
  constructor(ctx) {
    this.ctx = ctx;
    Object.assign(this, filterSelects(ctx.types));
    this.live = liveIndicator('log-live');
    this.refresh = el('button', { type: 'button', class: 'btn btn-small', id: 'log-refresh', text: 'Refresh' });
    this.tbody = el('tbody', { id: 'log-body' });
    this.more = el('button', { type: 'button', class: 'btn', id: 'log-more', text: 'Load older', hidden: true });
    this.problem = el('div', { class: 'log-problem' });
    this.base = '/api/v1/webhooks/' + enc(ctx.w.id) + '/logs';
    this.list = new LiveList(this.tbody, {
      key: (log) => log.id,
      newer: (a, b) => sortKey(a) > sortKey(b),
      render: (log, source) => logRow(ctx, log, source),
      placeholder: 'tr.empty',
    });
    this.cursor = null;
    this.stream = null; // the AbortController of the current stream
    this.liveState = 'connecting';
    this.status.addEventListener('change', () => this.connect());
    this.evType.addEventListener('change', () => this.connect());
    this.refresh.addEventListener('click', () => { this.reloadAll(); ctx.refreshStats(); });
    this.more.addEventListener('click', () => busy(this.more, 'Loading…', () => this.loadOlder()).catch((err) => {
      if (!err.sessionEnded) fill(this.problem, errorBox(err));
    }));
  }

  filters() {
    return { status: this.status.value, eventType: this.evType.value };
  }

  showEmpty() {
    if (this.list.size) return;
    const filtered = this.status.value || this.evType.value;
    fill(this.tbody, emptyRow(6, filtered
      ? 'No deliveries match these filters.'
      : 'No deliveries yet — send a test event above, or publish an event it subscribes to.'));
  }

  // load fetches a page of the list; replace=true starts over (filters
  // changed), otherwise entries are merged (after a reconnect).
  async load(replace) {
    const signal = this.ctx.signal;
    const r = await api('GET', apiPath(this.base, { ...this.filters(), limit: 50 }), undefined, { signal });
    if (signal.aborted) return;
    if (replace) {
      this.list.reset();
      this.cursor = r.nextCursor;
    } else if (this.cursor === null && !this.list.size) {
      this.cursor = r.nextCursor;
    }
    for (const log of r.data) this.list.insert(log, 'list');
    this.more.hidden = !this.cursor;
    this.showEmpty();
  }

  async loadOlder() {
    const signal = this.ctx.signal;
    const r = await api('GET', apiPath(this.base, { ...this.filters(), limit: 50, cursor: this.cursor }), undefined, { signal });
    if (signal.aborted) return;
    for (const log of r.data) this.list.insert(log, 'list');
    this.cursor = r.nextCursor;
    this.more.hidden = !this.cursor;
  }

  reloadAll() {
    this.problem.replaceChildren();
    return this.load(true).catch((err) => {
      if (!quiet(err) && !this.ctx.signal.aborted) fill(this.problem, errorBox(err));
    });
  }

  onEvent(type, payload) {
    if (type === 'log') {
      if (this.list.insert(payload, 'stream')) this.ctx.refreshStats();
      this.showEmpty();
    } else if (type === 'overflow') {
      // Too many at once to stream: the list has them all.
      this.reloadAll();
      this.ctx.refreshStats();
    }
  }

  // connect (re)starts the live stream with the current filters. The
  // list is (re)loaded once the stream is open, so nothing logged in
  // between is missed.
  connect() {
    if (this.stream) this.stream.abort();
    this.stream = new AbortController();
    this.list.reset(emptyRow(6, 'Loading…'));
    followLive(apiPath(this.base + '/stream', this.filters()), AbortSignal.any([this.ctx.signal, this.stream.signal]), {
      indicator: this.live,
      onState: (st) => { this.liveState = st; },
      reload: () => this.reloadAll(),
      merge: () => this.load(false).catch(() => { /* the next reconnect retries */ }),
      onEvent: (type, payload) => this.onEvent(type, payload),
    });
  }

  // needsReload shows what a form just sent when the stream is not there
  // to bring it.
  needsReload() {
    if (this.liveState !== 'live') setTimeout(() => { this.reloadAll(); this.ctx.refreshStats(); }, 300);
  }
}

// sortKey orders log rows newest first: time, then the (time-ordered)
// id.
function sortKey(log) {
  return (log.createdAt || '') + '|' + log.id;
}

// logRow is an attempt's row and, after it, its hidden detail row.
function logRow(ctx, log, source) {
  const ok = log.status === 'success';
  const toggle = el('button', { type: 'button', class: 'btn btn-small log-toggle', 'aria-expanded': 'false', text: 'Details' });
  const redeliver = ctx.canEdit ? el('button', { type: 'button', class: 'btn btn-small redeliver', text: 'Redeliver' }) : null;
  const row = el('tr', {
    class: ['log-row', ok ? 'is-ok' : 'is-failed', source === 'stream' && 'fresh'],
    dataset: {
      logId: log.id, source, status: log.status, eventType: log.eventType, attempt: log.attempt,
      test: log.test ? 'true' : 'false', deliveryId: log.deliveryId, sortKey: sortKey(log),
    },
  },
  el('td', { class: 'log-time' }, timeEl(log.createdAt)),
  el('td', { class: 'log-event' }, el('code', { text: log.eventType }), log.test ? badge('test', 'info') : null),
  el('td', { class: 'num log-attempt', text: '#' + log.attempt }),
  el('td', { class: 'log-result' },
    badge(ok ? 'success' : 'failed', ok ? 'ok' : 'danger'), ' ',
    el('span', { class: 'status-code', text: log.statusCode === null ? 'no answer' : 'HTTP ' + log.statusCode }),
    log.error ? el('div', { class: 'error-text small', text: log.error }) : null,
    log.nextAttemptAt ? el('div', { class: 'muted small' }, 'retry at ', timeEl(log.nextAttemptAt)) : null),
  el('td', { class: 'num log-duration', text: fmtMs(log.durationMs) }),
  el('td', { class: 'row-actions' }, toggle, redeliver));
  const detail = el('tr', { class: 'log-detail', hidden: true, dataset: { logId: log.id } }, el('td', { colspan: 6 }));
  toggle.addEventListener('click', detailToggle(ctx, log, toggle, detail));
  if (redeliver) redeliver.addEventListener('click', () => redeliverLog(ctx, log, redeliver));
  return [row, detail];
}

// detailToggle opens and closes an attempt's detail row, fetching the
// full attempt the first time.
function detailToggle(ctx, log, toggle, detail) {
  let loaded = false;
  return async () => {
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
      if (!quiet(err)) fill(cell, errorBox(err));
    }
  };
}

async function redeliverLog(ctx, log, button) {
  try {
    const r = await busy(button, 'Queuing…', () => api('POST',
      '/api/v1/webhooks/' + enc(ctx.w.id) + '/logs/' + enc(log.id) + '/redeliver', undefined, { signal: ctx.signal }));
    flash('Redelivery of ' + r.deliveryId + ' queued; the new attempt appears at the top.', 'ok');
    if (ctx.logNeedsReload) ctx.logNeedsReload();
  } catch (err) {
    if (quiet(err)) return;
    flash(err.status === 409 ? 'That delivery is being sent right now; try again once its attempt is logged.' : err.message, 'error');
  }
}

function logDetail(log) {
  return el('div', { class: 'detail-grid' },
    el('div', null,
      el('h3', { text: 'Request' }),
      el('p', { class: 'muted small' }, 'Delivery ', el('code', { text: log.deliveryId }), ' · event ', el('code', { text: log.eventId }),
        ' · attempt #' + log.attempt),
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
