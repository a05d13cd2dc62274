// Shared UI pieces: the flash line, error boxes, form fields, cards,
// badges, copy buttons, header tables and body blocks.

import { $, el, fill } from './dom.js';
import { prettyBody, sampleFor, typeInfo } from './format.js';

// quiet reports whether an error needs no words of its own: the session
// ended (the sign-in page says so) or the page that asked was left.
export function quiet(err) {
  return Boolean(err.sessionEnded) || err.name === 'AbortError';
}

// flash shows a short message as a toast in the bottom-left corner.
// Toasts stack, hold only their own clicks (the stack itself lets them
// through to the page), leave after five seconds unless they are errors,
// and all go when the page changes (clearFlashes), so one never speaks
// about a page that is no longer shown.
export function flash(message, kind) {
  const stack = $('#flash');
  const toast = el('div', { class: ['toast', 'toast-' + (kind || 'info')], role: kind === 'error' ? 'alert' : 'status' },
    el('span', { class: 'toast-text', text: message }));
  const close = () => {
    clearTimeout(timer);
    toast.remove();
    stack.hidden = !stack.children.length;
  };
  toast.append(el('button', { type: 'button', class: 'flash-close', 'aria-label': 'Dismiss', text: '×', on: { click: close } }));
  let timer = 0;
  if (kind !== 'error') timer = setTimeout(close, 5000);
  // At most three at once: the oldest goes first.
  while (stack.children.length >= 3) stack.firstChild.remove();
  stack.append(toast);
  stack.hidden = false;
}

// pending is what flashNext keeps for the page about to be shown.
let pending = null;

// flashNext is flash for the page an action goes to (a saved webhook's
// page, the list after a delete): the toast shows there, not on the page
// being left.
export function flashNext(message, kind) {
  pending = { message, kind };
}

// clearFlashes removes every toast, then shows what flashNext kept;
// startPage calls it.
export function clearFlashes() {
  const stack = $('#flash');
  stack.replaceChildren();
  stack.hidden = true;
  if (pending) {
    const p = pending;
    pending = null;
    flash(p.message, p.kind);
  }
}

// errorBox renders an API error: its message and each bad field.
export function errorBox(err) {
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
// fields (inputs carry data-field="url" and so on). Each message is said
// once: a bad field's message stands beside its field, and the area then
// only names the fields; messages with no field of the form stay in the
// area.
export function showFormError(form, err) {
  if (quiet(err)) return;
  const area = $('.form-error', form);
  unmarkFields(form);
  const placed = [];
  const rest = [];
  for (const d of err.details || []) {
    // "events[2]" or "headers.X-Foo" belong to the events or headers
    // input, "data/contact/phone" (a schema violation) to the data one.
    const name = String(d.field).split(/[.[/]/)[0];
    const input = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
    if (!input) {
      rest.push(d);
      continue;
    }
    input.setAttribute('aria-invalid', 'true');
    const holder = input.closest('.field') || input.parentElement;
    const at = String(d.field).slice(name.length);
    holder.append(el('div', { class: 'field-error', text: at.startsWith('/') ? at + ': ' + d.message : d.message }));
    placed.push(d.field);
  }
  if (placed.length) {
    const box = el('div', { class: 'error-box', role: 'alert' },
      el('strong', { text: (placed.length === 1 ? 'Check the field marked: ' : 'Check the fields marked: ') + placed.join(', ') + '.' }));
    if (rest.length) box.append(el('ul', null, rest.map((d) => el('li', null, el('code', { text: d.field }), ': ', d.message))));
    fill(area, box);
  } else {
    fill(area, errorBox(err));
  }
  area.hidden = false;
}

export function clearFormError(form) {
  const area = $('.form-error', form);
  area.replaceChildren();
  area.hidden = true;
  unmarkFields(form);
}

function unmarkFields(form) {
  for (const f of form.querySelectorAll('.field-error')) f.remove();
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
}

export function badge(text, kind, extra) {
  return el('span', Object.assign({ class: 'badge badge-' + kind, text }, extra));
}

export function webhookState(w) {
  if (w.disabledReason) return ['disabled', 'danger'];
  if (!w.isActive) return ['paused', 'warn'];
  return ['active', 'ok'];
}

export function field(label, input, hint) {
  return el('label', { class: 'field' },
    el('span', { class: 'field-label', text: label }),
    input,
    hint ? el('span', { class: 'field-hint', text: hint }) : null);
}

export function card(title, id, ...body) {
  return el('section', { class: 'card', id },
    title ? el('h2', { class: 'card-title', text: title }) : null,
    body);
}

// busy disables a button while work runs, so a double click does not
// send twice.
export async function busy(button, label, work) {
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

export function copyButton(getText, id) {
  return el('button', {
    type: 'button', class: 'btn btn-small', id, text: 'Copy',
    on: { click: (e) => copyText(getText(), e.currentTarget) },
  });
}

export function emptyRow(cols, text) {
  return el('tr', { class: 'empty' }, el('td', { colspan: cols, text }));
}

// headerTable shows headers ({name: value} or {name: [values]}) sorted
// by name.
export function headerTable(headers) {
  const names = Object.keys(headers || {}).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  if (!names.length) return el('p', { class: 'muted', text: 'No headers.' });
  return el('table', { class: 'kv' }, el('tbody', null, names.map((n) => {
    const v = headers[n];
    return el('tr', null, el('th', { text: n }), el('td', null, el('code', { text: Array.isArray(v) ? v.join(', ') : v })));
  })));
}

// bodyBlock shows a body pretty-printed, with a toggle to the exact
// bytes (the signature is over those).
export function bodyBlock(text, cls) {
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

// confirmBox fills box with a question and two buttons: yes runs
// onYes(button), Cancel hides the box again.
export function confirmBox(box, question, yes, onYes) {
  fill(box,
    question,
    el('div', { class: 'actions' },
      el('button', Object.assign({ type: 'button', on: { click: (e) => onYes(e.currentTarget) } }, yes)),
      el('button', { type: 'button', class: 'btn', text: 'Cancel', on: { click: () => { box.hidden = true; } } })));
  box.hidden = false;
}

// samplePayload makes a payload box follow the chosen event type's
// example (catalog from eventCatalog()) until someone types in it.
export function samplePayload(box, select, catalog) {
  let edited = false;
  box.addEventListener('input', () => { edited = true; });
  select.addEventListener('change', () => { if (!edited) box.value = sampleFor(select.value, catalog); });
  // useExample puts the example back and follows the type again.
  box.useExample = () => {
    box.value = sampleFor(select.value, catalog);
    edited = false;
    box.dispatchEvent(new Event('change'));
  };
  return box;
}

// typeNote says what the chosen event type is, as the catalogue describes
// it, and shows the JSON Schema its data must match; it follows select.
// idPrefix names its parts (idPrefix + '-type-description', '-type-schema').
export function typeNote(select, catalog, idPrefix) {
  const note = el('div', { class: 'type-note', id: idPrefix + '-type-note' });
  const draw = () => {
    const t = typeInfo(catalog, select.value);
    const schema = t && t.schema;
    fill(note,
      el('p', { class: 'muted small', id: idPrefix + '-type-description',
        text: (t && t.description) || (select.value === 'webhook.test' ? 'A test event: any payload.' : 'No description in the catalogue.') }),
      schema
        ? el('details', { id: idPrefix + '-type-schema' }, el('summary', { text: 'Schema of its data (checked when published)' }),
          el('pre', { class: 'body', text: JSON.stringify(schema, null, 2) }))
        : null);
  };
  select.addEventListener('change', draw);
  draw();
  return note;
}
