// The webhook form, for a new webhook and for editing one.

import { api, enc, eventExample, eventTypes, invalid, webhookLimits } from '../api.js';
import { el, fill } from '../dom.js';
import { pageError, startPage } from '../page.js';
import { busy, card, clearFormError, errorBox, field, flashNext, quiet, showFormError } from '../ui.js';

export async function renderWebhookForm(id, query) {
  const { root, signal } = startPage('webhook-form-page', 'narrow-wide');
  let existing = null;
  let types, limits;
  try {
    [types, limits, existing] = await Promise.all([
      eventTypes(),
      webhookLimits(),
      id ? api('GET', '/api/v1/webhooks/' + enc(id), undefined, { signal }) : Promise.resolve(null),
    ]);
  } catch (err) {
    return pageError(root, err);
  }
  if (signal.aborted) return;

  const w = existing || {
    name: '', url: query.get('url') || '', events: [], description: '', headers: {},
    rateLimit: 0, timeoutSeconds: 0, isActive: true, filter: null,
  };
  const inputs = formInputs(w, types, limits, existing);
  const form = formLayout(inputs, existing);
  inputs.filterTry.addEventListener('click', () => tryFilter(inputs, signal));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    save(form, inputs, existing, signal);
  });
  root.append(
    el('div', { class: 'page-head' },
      el('h1', { text: existing ? 'Edit webhook' : 'New webhook' }),
      existing ? el('span', { class: 'subtitle', text: existing.name }) : null),
    card(null, null, form));
  inputs.name.focus();
}

// formInputs makes the form's inputs, filled from w, bounded by the
// API's limits.
function formInputs(w, types, limits, existing) {
  const choices = ['*'].concat(types);
  const known = new Set(choices);
  const bound = (f) => limits[f] || {};
  return {
    name: el('input', { id: 'wh-name', type: 'text', maxlength: bound('name').maxLength, value: w.name, 'data-field': 'name', required: true }),
    url: el('input', { id: 'wh-url', type: 'url', inputmode: 'url', value: w.url, 'data-field': 'url', required: true, placeholder: 'https://example.com/webhooks' }),
    events: el('fieldset', { class: 'field events', 'data-field': 'events' },
      el('legend', { class: 'field-label', text: 'Events' }),
      el('div', { class: 'checks' }, choices.map((t) => el('label', { class: 'check' },
        el('input', { type: 'checkbox', name: 'events', value: t, checked: w.events.includes(t) }),
        el('code', { text: t }),
        t === '*' ? el('span', { class: 'muted', text: ' every event' }) : null)))),
    patterns: el('input', {
      id: 'wh-patterns', type: 'text', value: w.events.filter((e) => !known.has(e)).join(', '),
      placeholder: 'message.*, campaign.*',
    }),
    description: el('textarea', { id: 'wh-description', rows: 2, maxlength: bound('description').maxLength, 'data-field': 'description', value: w.description || '' }),
    secret: el('input', { id: 'wh-secret', type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-field': 'secret', placeholder: 'leave empty to generate whsec_…' }),
    headers: el('textarea', {
      id: 'wh-headers', rows: 3, 'data-field': 'headers', spellcheck: 'false',
      value: Object.entries(w.headers || {}).map(([k, v]) => k + ': ' + v).join('\n'),
      placeholder: 'Authorization: Bearer receiver-token',
    }),
    rateLimit: el('input', { id: 'wh-rate-limit', type: 'number', min: bound('rateLimit').minimum, max: bound('rateLimit').maximum, value: w.rateLimit || 0, 'data-field': 'rateLimit' }),
    timeout: el('input', { id: 'wh-timeout', type: 'number', min: bound('timeoutSeconds').minimum, max: bound('timeoutSeconds').maximum, value: w.timeoutSeconds || 0, 'data-field': 'timeoutSeconds' }),
    filter: el('textarea', {
      id: 'wh-filter', rows: 3, 'data-field': 'filter', spellcheck: 'false',
      value: w.filter ? JSON.stringify(w.filter, null, 2) : '',
      placeholder: '{"data.direction": "inbound", "data.type": {"$in": ["text", "image"]}}',
    }),
    filterEvent: el('select', { id: 'wh-filter-event', 'aria-label': 'Event type to try the filter on' },
      types.filter((t) => t !== 'webhook.disabled').map((t) => el('option', { value: t, text: t }))),
    filterTry: el('button', { type: 'button', id: 'wh-filter-try', class: 'btn', text: 'Try filter' }),
    filterResult: el('div', { id: 'wh-filter-result', class: 'filter-result', 'aria-live': 'polite', hidden: true }),
    active: el('input', { id: 'wh-active', type: 'checkbox', checked: w.isActive, 'data-field': 'isActive' }),
    save: el('button', { type: 'submit', id: 'wh-save', class: 'btn btn-primary', text: existing ? 'Save changes' : 'Create webhook' }),
  };
}

function formLayout(i, existing) {
  const cancel = el('a', { class: 'btn', href: existing ? '#/webhooks/' + enc(existing.id) : '#/webhooks', text: 'Cancel' });
  return el('form', { id: 'webhook-form', class: 'form', noValidate: true },
    field('Name', i.name),
    field('URL', i.url, 'Where deliveries are POSTed. This webhookd\'s own inbox (' + location.origin + '/inbox/NAME) is always allowed.'),
    i.events,
    field('More patterns', i.patterns, 'Comma-separated, such as message.* (one trailing wildcard).'),
    field('Description', i.description),
    existing ? null : field('Secret', i.secret, 'Optional. Signs every delivery; shown on the webhook\'s page.'),
    field('Custom headers', i.headers, 'One per line, "Name: value". Sent with every delivery.'),
    field('Payload filter', i.filter, 'Optional JSON, Convoy syntax: only events whose envelope (event, timestamp, data) matches are delivered. Empty: every event of the types above.'),
    el('div', { class: 'filter-try' }, i.filterEvent, i.filterTry),
    i.filterResult,
    el('div', { class: 'row' },
      field('Rate limit (deliveries/s, 0 = none)', i.rateLimit),
      field('Timeout (seconds, 0 = default)', i.timeout)),
    el('label', { class: 'check' }, i.active, ' Active (unticked: paused, deliveries wait)'),
    el('div', { class: 'form-error', hidden: true }),
    el('div', { class: 'actions' }, i.save, cancel));
}

// save creates or updates the webhook and opens its page.
async function save(form, i, existing, signal) {
  clearFormError(form);
  let body;
  try {
    body = formBody(form, i, existing);
  } catch (err) {
    return showFormError(form, err);
  }
  try {
    const saved = await busy(i.save, 'Saving…', () => existing
      ? api('PATCH', '/api/v1/webhooks/' + enc(existing.id), body, { signal })
      : api('POST', '/api/v1/webhooks', body, { signal }));
    flashNext(existing ? 'Saved.' : 'Webhook created. Send it a test event below.', 'ok');
    location.hash = '#/webhooks/' + enc(saved.id);
  } catch (err) {
    showFormError(form, err);
  }
}

// formBody reads the form into the API's webhook body.
function formBody(form, i, existing) {
  const body = {
    name: i.name.value,
    url: i.url.value.trim(),
    events: [...form.querySelectorAll('input[name="events"]:checked')].map((c) => c.value)
      .concat(i.patterns.value.split(',').map((s) => s.trim()).filter(Boolean)),
    description: i.description.value,
    headers: parseHeaderLines(i.headers.value),
    rateLimit: Number(i.rateLimit.value || 0),
    timeoutSeconds: Number(i.timeout.value || 0),
    isActive: i.active.checked,
    filter: parseFilter(i.filter.value),
  };
  if (!existing && i.secret.value.trim()) body.secret = i.secret.value.trim();
  return body;
}

// parseFilter reads the filter textarea: empty is no filter (null, which
// also removes one when editing).
function parseFilter(text) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid('filter', 'is not valid JSON: ' + err.message);
  }
}

// tryFilter asks the server whether the filter matches the chosen event
// type's example (its catalogue example's data, or {}) and shows the
// answer: a match, or the clause that failed and why.
async function tryFilter(i, signal) {
  const out = i.filterResult;
  out.hidden = false;
  let filter;
  try {
    filter = parseFilter(i.filter.value) || {};
  } catch (err) {
    return fill(out, errorBox(err));
  }
  const type = i.filterEvent.value;
  try {
    const data = await eventExample(type);
    const r = await busy(i.filterTry, 'Trying…', () => api('POST', '/api/v1/filters/test',
      { filter, event: { event: type, data } }, { signal }));
    if (r.matches) {
      fill(out, el('p', { class: 'filter-match', text: 'Matches: a ' + type + ' event like its example would be delivered.' }));
    } else {
      fill(out, el('p', { class: 'filter-miss' }, 'Does not match: ', el('code', { class: 'filter-failed', text: r.failed }),
        ' ', el('span', { class: 'filter-reason', text: r.reason })));
    }
    out.append(el('details', null, el('summary', { text: 'Example data tried' }),
      el('pre', { class: 'body', text: JSON.stringify(data, null, 2) })));
  } catch (err) {
    if (!quiet(err)) fill(out, errorBox(err));
  }
}

// parseHeaderLines reads "Name: value" lines into an object.
function parseHeaderLines(text) {
  const out = {};
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalid('headers', 'line ' + (n + 1) + ' is not "Name: value"');
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return out;
}
