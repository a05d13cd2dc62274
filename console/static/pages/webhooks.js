// The webhook list.

import { api, apiPath, enc } from '../api.js';
import { el } from '../dom.js';
import { timeEl } from '../format.js';
import { pageError, startPage } from '../page.js';
import { canEdit } from '../session.js';
import { badge, busy, emptyRow, webhookState } from '../ui.js';

export async function renderWebhookList() {
  const { root, signal } = startPage('webhooks-page');
  const tbody = el('tbody', { id: 'webhook-rows' }, emptyRow(5, 'Loading…'));
  const more = el('button', { type: 'button', class: 'btn', id: 'webhooks-more', text: 'Load more', hidden: true });
  root.append(
    el('div', { class: 'page-head' },
      el('h1', { text: 'Webhooks' }),
      canEdit() ? el('a', { class: 'btn btn-primary', href: '#/webhooks/new', id: 'new-webhook', text: 'New webhook' }) : null),
    el('div', { class: 'table-wrap' },
      el('table', { class: 'table cards', id: 'webhook-table' },
        el('thead', null, el('tr', null, ['Name', 'URL', 'Events', 'State', 'Created'].map((h) => el('th', { text: h })))),
        tbody)),
    more);

  let cursor = null;
  let first = true;
  async function load() {
    const r = await api('GET', apiPath('/api/v1/webhooks', { limit: 50, cursor }), undefined, { signal });
    if (signal.aborted) return;
    if (first) tbody.replaceChildren();
    first = false;
    for (const w of r.data) tbody.append(webhookRow(w));
    if (!tbody.children.length) tbody.append(noWebhooks());
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

function noWebhooks() {
  if (!canEdit()) return el('tr', { class: 'empty' }, el('td', { colspan: 5, text: 'No webhooks yet.' }));
  return el('tr', { class: 'empty' }, el('td', { colspan: 5 },
    'No webhooks yet. ', el('a', { href: '#/webhooks/new', text: 'Create one' }),
    ', or open the ', el('a', { href: '#/inbox/demo', text: 'built-in inbox' }),
    ' and point a webhook at it to watch deliveries arrive.'));
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
