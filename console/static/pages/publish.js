// The publish page: POST /api/v1/events from a form, with the same
// request as curl beside it.

import { api, eventCatalog, invalid } from '../api.js';
import { el, fill } from '../dom.js';
import { plural, sampleFor } from '../format.js';
import { pageError, startPage } from '../page.js';
import { badge, busy, card, clearFormError, field, samplePayload, showFormError, typeNote } from '../ui.js';

// Types webhookd publishes itself, which the API refuses from anyone
// else.
const OWN_TYPES = ['webhook.disabled'];

export async function renderPublish() {
  const { root, signal } = startPage('publish-page', 'narrow-wide');
  let catalog;
  try {
    catalog = await eventCatalog();
  } catch (err) {
    return pageError(root, err);
  }
  if (signal.aborted) return;
  const f = publishInputs(catalog.map((t) => t.name).filter((t) => !OWN_TYPES.includes(t)), catalog);
  const form = el('form', { id: 'publish-form', class: 'form', noValidate: true },
    field('Event type', f.select),
    typeNote(f.select, catalog, 'publish'),
    field('Data (JSON)', f.data, 'Delivered as the envelope\'s data, byte for byte after compaction.'),
    field('Idempotency key', f.key, 'The same key with the same event and data within 24 hours answers the first event again and creates nothing; with other content it is refused (422).'),
    el('div', { class: 'form-error', hidden: true }),
    el('div', { class: 'actions' }, f.submit),
    f.result);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    publish(form, f, signal);
  });
  root.append(
    el('div', { class: 'page-head' }, el('h1', { text: 'Publish event' })),
    card(null, null,
      el('p', { class: 'muted' }, 'What the CRM does with ', el('code', { text: 'POST /api/v1/events' }),
        ': every active webhook of yours whose patterns match gets one signed delivery, retried until it succeeds.'),
      form),
    card('The same with curl', null, f.curl));
}

// publishInputs makes the form's inputs and the curl line that follows
// them; the data starts as the catalogue's example of the chosen type.
function publishInputs(publishable, catalog) {
  const select = el('select', { id: 'publish-event', 'data-field': 'event' }, publishable.map((t) => el('option', { value: t, text: t })));
  const f = {
    select,
    data: samplePayload(el('textarea', { id: 'publish-data', rows: 10, spellcheck: 'false', 'data-field': 'data', value: sampleFor(publishable[0], catalog) }), select, catalog),
    key: el('input', { id: 'publish-key', type: 'text', 'data-field': 'idempotencyKey', placeholder: 'optional, such as msg_123' }),
    submit: el('button', { type: 'submit', id: 'publish-submit', class: 'btn btn-primary', text: 'Publish' }),
    result: el('div', { id: 'publish-result', class: 'result', hidden: true }),
    curl: el('pre', { class: 'body', id: 'publish-curl' }),
  };
  const updateCurl = () => {
    const body = '{"event": ' + JSON.stringify(f.select.value) + ', "data": ' + (f.data.value.trim() || '{}') +
      (f.key.value.trim() ? ', "idempotencyKey": ' + JSON.stringify(f.key.value.trim()) : '') + '}';
    f.curl.textContent = 'curl -X POST ' + location.origin + '/api/v1/events \\\n' +
      '  -H "Authorization: Bearer YOUR_ACCESS_TOKEN" \\\n  -H "Content-Type: application/json" \\\n' +
      '  -d \'' + body.replace(/'/g, '\'\\\'\'') + '\'';
  };
  for (const n of [f.select, f.data, f.key]) n.addEventListener('input', updateCurl);
  f.select.addEventListener('change', updateCurl);
  updateCurl();
  return f;
}

// publish sends the event exactly as typed and says where it goes. The
// result area shows the outcome of this attempt only: an error clears
// the previous success, and the error itself shows in the form alone.
async function publish(form, f, signal) {
  clearFormError(form);
  f.result.replaceChildren();
  f.result.hidden = true;
  const raw = f.data.value.trim();
  try {
    JSON.parse(raw);
  } catch (err) {
    return showFormError(form, invalid('data', 'not valid JSON: ' + err.message, 'not valid JSON'));
  }
  let body = '{"event":' + JSON.stringify(f.select.value) + ',"data":' + raw;
  if (f.key.value.trim()) body += ',"idempotencyKey":' + JSON.stringify(f.key.value.trim());
  body += '}';
  try {
    // The API marks an answer that repeats an earlier event (the same
    // idempotency key and content) with Idempotent-Replayed: true.
    let replayed = false;
    const r = await busy(f.submit, 'Publishing…', () => api('POST', '/api/v1/events', { raw: body },
      { signal, onResponse: (res) => { replayed = res.headers.get('Idempotent-Replayed') === 'true'; } }));
    f.result.dataset.outcome = replayed ? 'replayed' : 'accepted';
    fill(f.result,
      replayed
        ? el('p', null, badge('replayed', 'info', { id: 'publish-badge' }), ' Idempotency key ', el('code', { text: f.key.value.trim() }),
          ' was used before with this event and data: webhookd answered the first event, ', el('code', { id: 'publish-event-id', text: r.id }),
          ', again and created nothing new. Its ', el('strong', { id: 'publish-deliveries', text: plural(r.deliveries, 'webhook') }), ' got it then.')
        : el('p', null, badge('accepted', 'ok', { id: 'publish-badge' }), ' Event ', el('code', { id: 'publish-event-id', text: r.id }), ' (', el('code', { text: r.event }), ') goes to ',
          el('strong', { id: 'publish-deliveries', text: plural(r.deliveries, 'webhook') }), '.'),
      replayed ? null : r.deliveries === 0
        ? el('p', { class: 'muted', text: 'No active webhook of yours subscribes to this type. That is not an error.' })
        : el('p', null, 'Watch it arrive on ', el('a', { href: '#/webhooks', text: 'your webhooks\' logs' }), ' or in the ', el('a', { href: '#/inbox/demo', text: 'inbox' }), '.'));
    f.result.hidden = false;
  } catch (err) {
    showFormError(form, err);
  }
}
