// A webhook's page: its settings, a test send, its statistics and chart,
// its live delivery log, replay and delete.

import { api, enc, eventCatalog, eventTypes, invalid } from '../api.js';
import { el, fill } from '../dom.js';
import { fmtMs, fmtTime, plural, sampleFor, timeEl, toLocalInput } from '../format.js';
import { pageError, startPage } from '../page.js';
import {
  badge, bodyBlock, busy, card, clearFormError, confirmBox, copyButton, errorBox, field, flash, flashNext, headerTable,
  quiet, samplePayload, showFormError, typeNote, webhookState,
} from '../ui.js';
import { canEdit } from '../session.js';
import { logCard } from './log.js';
import { statsCard } from './stats.js';

export async function renderWebhookDetail(id) {
  const { root, signal } = startPage('webhook-detail');
  let w, types, catalog;
  try {
    [w, types, catalog] = await Promise.all([api('GET', '/api/v1/webhooks/' + enc(id), undefined, { signal }), eventTypes(), eventCatalog()]);
  } catch (err) {
    if (err.status === 404) {
      root.append(el('h1', { text: 'Webhook not found' }), el('p', null, 'It may have been deleted. ', el('a', { href: '#/webhooks', text: 'Back to webhooks' })));
      return;
    }
    return pageError(root, err);
  }
  if (signal.aborted) return;

  // ctx is what the cards share: the webhook as last read, and the hooks
  // they call each other by (refreshStats, logNeedsReload).
  // A read-only portal session sees the settings, statistics and log,
  // and none of the cards and buttons that change something.
  const ctx = { w, types, catalog, signal, root, canEdit: canEdit() };
  const head = el('div', { class: 'page-head' });
  fill(root,
    head,
    ctx.canEdit ? el('div', { class: 'grid-2' }, settingsCard(ctx), testCard(ctx)) : settingsCard(ctx),
    statsCard(ctx),
    logCard(ctx),
    ctx.canEdit ? el('div', { class: 'grid-2' }, replayCard(ctx), dangerCard(ctx)) : null);
  renderDetailHead(head, ctx);
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
      if (!quiet(err)) flash(err.message, 'error');
    }
  });
  fill(head,
    el('div', { class: 'title-block' },
      el('a', { href: '#/webhooks', class: 'back', text: '← Webhooks' }),
      el('h1', { id: 'wh-title', text: w.name }),
      badge(st, kind, { id: 'wh-state' })),
    ctx.canEdit ? el('div', { class: 'actions' },
      el('a', { class: 'btn', id: 'wh-edit', href: '#/webhooks/' + enc(w.id) + '/edit', text: 'Edit' }),
      toggle) : null);
  if (w.disabledReason) {
    head.append(el('div', { class: 'banner banner-danger' },
      el('strong', { text: 'Disabled by webhookd ' }), timeEl(w.disabledAt), ': ', w.disabledReason,
      '. Fix the receiver, then re-enable it; replay what failed below.'));
  }
}

function settingsCard(ctx) {
  const w = ctx.w;
  const secret = secretView(w);
  const rotateBox = el('div', { class: 'confirm', hidden: true });
  const rotate = el('button', {
    type: 'button', class: 'btn btn-small', id: 'secret-rotate', text: 'Rotate…',
    on: { click: () => askRotate(ctx, w, secret, rotateBox) },
  });
  const rows = [
    ['URL', el('code', { class: 'url', id: 'wh-url-text', text: w.url })],
    ['Events', w.events.map((e) => el('span', { class: 'chip', text: e }))],
    ['Secret', el('div', { class: 'secret-row' }, secret.text, secret.show, copyButton(() => w.secret, 'secret-copy'), ctx.canEdit ? rotate : null)],
    ['Description', w.description ? w.description : el('span', { class: 'muted', text: '—' })],
    ['Custom headers', Object.keys(w.headers || {}).length ? headerTable(w.headers) : el('span', { class: 'muted', text: 'none' })],
    ['Rate limit', w.rateLimit ? w.rateLimit + ' deliveries/s' : 'none'],
    ['Timeout', w.timeoutSeconds ? w.timeoutSeconds + ' s' : 'server default'],
    ['Filter', w.filter ? el('code', { id: 'wh-filter-text', text: JSON.stringify(w.filter) }) : el('span', { class: 'muted', text: 'none: every event of its types' })],
    ['Created', timeEl(w.createdAt)],
    ['Updated', timeEl(w.updatedAt)],
    ['Id', el('code', { text: w.id })],
  ];
  return card('Settings', 'settings-card',
    el('dl', { class: 'dl' }, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', null, v)])),
    rotateBox);
}

// secretView is the webhook's secret, masked until Show is pressed;
// reveal() shows it.
function secretView(w) {
  let shown = false;
  const masked = () => (w.secret.startsWith('whsec_') ? 'whsec_' : '') + '••••••••••••';
  const text = el('code', { id: 'wh-secret', class: 'secret', text: masked() });
  const show = el('button', { type: 'button', class: 'btn btn-small', id: 'secret-show', text: 'Show' });
  const set = (on) => {
    shown = on;
    text.textContent = shown ? w.secret : masked();
    show.textContent = shown ? 'Hide' : 'Show';
  };
  show.addEventListener('click', () => set(!shown));
  return { text, show, reveal: () => set(true) };
}

// newSecret is a secret as webhookd generates one: whsec_ and the
// base64 of 32 random bytes.
function newSecret() {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return 'whsec_' + btoa(String.fromCharCode(...b));
}

// askRotate lets the user choose the new secret before it takes effect:
// one generated here and shown (to give the receivers first), or one
// typed. w is the webhook as the settings card was drawn with, whose
// secret the card shows.
function askRotate(ctx, w, secret, box) {
  const input = el('input', { id: 'secret-new', type: 'text', spellcheck: 'false', autocomplete: 'off', 'data-field': 'secret', value: newSecret() });
  const regen = el('button', { type: 'button', class: 'btn btn-small', id: 'secret-generate', text: 'Generate another',
    on: { click: () => { input.value = newSecret(); } } });
  const problem = el('div', { class: 'form-error', id: 'secret-rotate-error', hidden: true });
  confirmBox(box,
    el('div', { class: 'rotate' },
      el('p', { text: 'The new secret takes effect when you press Rotate now. Give it to your receivers first:' }),
      el('ul', { class: 'rotate-notes' },
        el('li', null, 'Receivers that check only ', el('code', { text: 'X-Webhook-Signature' }),
          ' must learn the new secret before you rotate: that header carries one signature, made with the new secret from then on.'),
        el('li', null, el('code', { text: 'webhook-signature' }), ' (Standard Webhooks) carries both signatures during the overlap, the new and the old secret\'s (24 h by default), so receivers checking it can switch at their own pace.')),
      field('New secret (generated here; or paste your own, at least 8 characters)', input),
      el('div', { class: 'actions' }, regen, copyButton(() => input.value, 'secret-new-copy')),
      problem),
    { class: 'btn btn-primary', id: 'secret-rotate-yes', text: 'Rotate now' },
    async (button) => {
      problem.hidden = true;
      try {
        const r = await busy(button, 'Rotating…', () =>
          api('POST', '/api/v1/webhooks/' + enc(w.id) + '/rotate-secret', { secret: input.value.trim() }, { signal: ctx.signal }));
        w.secret = r.secret;
        secret.reveal();
        box.hidden = true;
        flash(r.previousSecretExpiresAt
          ? 'New secret in place; the old one keeps signing webhook-signature until ' + fmtTime(r.previousSecretExpiresAt) + '.'
          : 'New secret in place; the old one stopped at once.', 'ok');
      } catch (err) {
        if (quiet(err)) return;
        fill(problem, errorBox(err));
        problem.hidden = false;
      }
    });
  // The form opens below the whole settings list: on a phone that is a
  // screen or two down, where a tap on Rotate… would seem to do nothing.
  box.scrollIntoView({ block: 'nearest' });
  input.focus({ preventScroll: true });
}

// testTypes puts webhook.test first, then the catalogue.
function testTypes(types) {
  return ['webhook.test'].concat(types.filter((t) => t !== 'webhook.test'));
}

function testCard(ctx) {
  const select = el('select', { id: 'test-event-type', 'data-field': 'eventType' },
    testTypes(ctx.types).map((t) => el('option', { value: t, text: t })));
  const payload = samplePayload(el('textarea', { id: 'test-payload', rows: 6, spellcheck: 'false', 'data-field': 'payload', value: sampleFor('webhook.test', ctx.catalog) }), select, ctx.catalog);
  // The catalogue's example of the chosen type, which publishing would
  // accept, is the payload until someone edits it; this puts it back.
  const useExample = el('button', { type: 'button', id: 'test-use-example', class: 'btn btn-small', text: 'Use the example',
    on: { click: () => payload.useExample() } });
  const send = el('button', { type: 'submit', id: 'test-send', class: 'btn btn-primary', text: 'Send test event' });
  const result = el('div', { id: 'test-result', class: 'result', hidden: true });
  const form = el('form', { id: 'test-form', class: 'form', noValidate: true },
    field('Event type', select),
    typeNote(select, ctx.catalog, 'test'),
    field('Payload (JSON, sent as the envelope\'s data)', payload),
    el('div', { class: 'actions' }, useExample),
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
      return showFormError(form, invalid('payload', 'not valid JSON: ' + err.message, 'not valid JSON'));
    }
    try {
      const r = await busy(send, 'Sending…', () => api('POST', '/api/v1/webhooks/' + enc(ctx.w.id) + '/test',
        { raw: '{"eventType":' + JSON.stringify(select.value) + ',"payload":' + raw + '}' }, { signal: ctx.signal }));
      showTestResult(result, r);
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

function showTestResult(result, r) {
  fill(result,
    el('div', { class: 'result-line' },
      r.success ? badge('delivered', 'ok') : badge('failed', 'danger'),
      ' ', r.statusCode === null ? 'no answer' : 'HTTP ' + r.statusCode,
      ' in ', fmtMs(r.responseTimeMs)),
    r.error ? el('div', { class: 'error-text', text: r.error }) : null,
    r.responseBody ? el('details', null, el('summary', { text: 'Response body' }), bodyBlock(r.responseBody)) : null);
  result.hidden = false;
}

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
  const box = el('div', { class: 'confirm', id: 'delete-confirm', hidden: true });
  const del = el('button', {
    type: 'button', id: 'wh-delete', class: 'btn btn-danger', text: 'Delete webhook…',
    on: { click: () => askDelete(ctx, box) },
  });
  return card('Delete', 'danger-card',
    el('p', { class: 'muted small', text: 'To stop deliveries for a while, pause it instead: nothing is lost.' }),
    del, box);
}

function askDelete(ctx, box) {
  confirmBox(box,
    el('p', null, 'Delete ', el('strong', { text: ctx.w.name }), ' with its queued deliveries, logs and statistics? This cannot be undone.'),
    { class: 'btn btn-danger', id: 'delete-yes', text: 'Delete for good' },
    async (button) => {
      try {
        await busy(button, 'Deleting…', () => api('DELETE', '/api/v1/webhooks/' + enc(ctx.w.id), undefined, { signal: ctx.signal }));
        flashNext('Deleted ' + ctx.w.name + '.', 'ok');
        location.hash = '#/webhooks';
      } catch (err) {
        if (!err.sessionEnded) flash(err.message, 'error');
      }
    });
}
