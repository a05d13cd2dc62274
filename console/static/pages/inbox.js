// The inbox page: one development inbox's captures, live.

import { api, enc, inboxNameRule } from '../api.js';
import { el, fill } from '../dom.js';
import { fmtBytes, timeEl } from '../format.js';
import { LiveList, followLive, liveIndicator } from '../livelist.js';
import { pageError, startPage } from '../page.js';
import { canEdit } from '../session.js';
import { badge, bodyBlock, card, copyButton, errorBox, flash, headerTable, quiet } from '../ui.js';

// renderInbox shows the inbox called name, once the API's rule for inbox
// names says it is one.
export async function renderInbox(name) {
  const { root, signal } = startPage('inbox-page');
  let rule;
  try {
    rule = await inboxNameRule();
  } catch (err) {
    return pageError(root, err);
  }
  if (signal.aborted) return;
  if (!rule.pattern.test(name)) {
    root.append(errorBox(new Error('"' + name + '" is not an inbox name: ' + rule.text)));
    return;
  }
  const target = location.origin + '/inbox/' + name;
  const live = liveIndicator('inbox-live');
  const list = el('div', { id: 'inbox-list', class: 'captures' }, el('p', { class: 'muted', text: 'Loading…' }));
  const problem = el('div');
  root.append(
    el('div', { class: 'page-head' },
      el('div', { class: 'title-block' }, el('h1', null, 'Inbox ', el('code', { id: 'inbox-title', text: name })), live),
      switchForm(name, rule)),
    targetCard(target),
    problem,
    list);
  followCaptures(name, signal, { live, list, problem, target });
}

// switchForm opens another inbox by name.
function switchForm(name, rule) {
  const input = el('input', { id: 'inbox-name', type: 'text', value: name, 'aria-label': 'Inbox name', pattern: rule.pattern.source });
  const form = el('form', { class: 'inline-form', id: 'inbox-switch', noValidate: true },
    input, el('button', { type: 'submit', class: 'btn btn-small', text: 'Open' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = input.value.trim();
    if (!rule.pattern.test(n)) return flash('An inbox name is ' + rule.text, 'error');
    location.hash = '#/inbox/' + n;
  });
  return form;
}

function targetCard(target) {
  return card(null, 'inbox-target',
    el('p', null, 'Point a webhook at this URL and watch its deliveries arrive here:'),
    el('div', { class: 'secret-row' },
      el('code', { id: 'inbox-url', class: 'url big', text: target }),
      copyButton(() => target, 'inbox-url-copy'),
      canEdit() ? el('a', { class: 'btn btn-primary', id: 'inbox-create-webhook', href: newWebhookHref(target), text: 'Create a webhook pointing here' }) : null),
    el('p', { class: 'muted small' },
      'Any request but GET to it is captured (the last 100, in memory until webhookd stops). ',
      'Deliveries of your webhooks are shown to you alone (“verified” when X-Webhook-Signature checks out); anyone else’s requests, to everyone signed in. Try: ',
      el('code', { text: 'curl -X POST ' + target + ' -H "Content-Type: application/json" -d \'{"hello":"inbox"}\'' })));
}

function newWebhookHref(target) {
  return '#/webhooks/new?' + new URLSearchParams({ url: target });
}

// followCaptures keeps the list of captures live.
function followCaptures(name, signal, { live, list, problem, target }) {
  // Captures are told apart by id and time together: ids start again
  // at 1 when webhookd restarts, while this page stays open.
  const captures = new LiveList(list, {
    key: (c) => c.id + '|' + c.receivedAt,
    newer: (a, b) => at(a) > at(b) || (at(a) === at(b) && a.id > b.id),
    render: (c, source) => captureItem(c, source),
    placeholder: '.empty',
  });
  function showEmpty() {
    if (captures.size) return;
    fill(list, el('div', { class: 'empty card' },
      el('p', null, el('strong', { text: 'Nothing captured yet.' })),
      canEdit()
        ? el('p', null, el('a', { href: newWebhookHref(target), text: 'Create a webhook pointing here' }),
          ' and send it a test event, or POST anything to the URL above.')
        : el('p', { text: 'POST anything to the URL above.' })));
  }
  async function load(replace) {
    const r = await api('GET', '/api/v1/inboxes/' + enc(name), undefined, { signal });
    if (signal.aborted) return;
    if (replace) captures.reset();
    for (const c of r.data) captures.insert(c, 'list');
    showEmpty();
  }
  function loadReporting(replace) {
    problem.replaceChildren();
    load(replace).catch((err) => {
      if (quiet(err) || signal.aborted) return;
      if (replace) captures.reset();
      fill(problem, errorBox(err));
    });
  }
  followLive('/api/v1/inboxes/' + enc(name) + '/stream', signal, {
    indicator: live,
    reload: () => loadReporting(true),
    merge: () => loadReporting(false),
    onEvent: (type, c) => { if (type === 'capture') captures.insert(c, 'stream'); },
  });
}

// at is when a capture arrived, in milliseconds, for ordering.
function at(c) {
  return Date.parse(c.receivedAt) || 0;
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
  const detail = captureDetail(c);
  toggle.addEventListener('click', () => {
    detail.hidden = !detail.hidden;
    toggle.setAttribute('aria-expanded', String(!detail.hidden));
    toggle.textContent = detail.hidden ? 'Details' : 'Hide';
  });
  return el('article', {
    class: ['capture', 'card', source === 'stream' && 'fresh'],
    dataset: { captureId: c.id, source, signature: c.signature, at: at(c) },
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

function captureDetail(c) {
  return el('div', { class: 'capture-detail', hidden: true },
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
}
