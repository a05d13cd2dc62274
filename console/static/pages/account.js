// The signed-in user's own pages: the tenant's API keys (create, shown
// once; revoke), its members, and changing one's password. A portal
// session has none of them (the API refuses it all three), so the router
// does not open them for one and the nav does not show them.

import { api, enc } from '../api.js';
import { el, fill } from '../dom.js';
import { timeEl } from '../format.js';
import { pageError, startPage } from '../page.js';
import { renewSession, session } from '../session.js';
import { badge, busy, card, clearFormError, confirmBox, copyButton, emptyRow, field, flash, quiet, showFormError } from '../ui.js';

export async function renderApiKeys() {
  const { root, signal } = startPage('api-keys-page');
  const tbody = el('tbody', { id: 'api-key-rows' }, emptyRow(5, 'Loading…'));
  const name = el('input', { id: 'api-key-name', type: 'text', 'data-field': 'name', maxlength: 255, placeholder: 'such as crm-publisher', required: true });
  const create = el('button', { type: 'submit', id: 'api-key-create', class: 'btn btn-primary', text: 'Create key' });
  const created = el('div', { id: 'api-key-created', class: 'result', hidden: true });
  const form = el('form', { id: 'api-key-form', class: 'form', noValidate: true },
    field('Name', name, 'Says what uses the key, so you know which to revoke.'),
    el('div', { class: 'form-error', hidden: true }),
    el('div', { class: 'actions' }, create));
  root.append(
    el('div', { class: 'page-head' }, el('h1', { text: 'API keys' })),
    card('New key', 'api-key-new-card',
      el('p', { class: 'muted small' }, 'A key publishes events and manages webhooks for this tenant, as you can: send it as ',
        el('code', { text: 'Authorization: Bearer whk_…' }), '. Keys you make stop when your user is disabled or deleted.'),
      form, created),
    card('Keys', 'api-keys-card',
      el('div', { class: 'table-wrap' },
        el('table', { class: 'table cards', id: 'api-key-table' },
          el('thead', null, el('tr', null, ['Name', 'Prefix', 'Created', 'Last used', ''].map((h) => el('th', { text: h })))),
          tbody))));

  async function load() {
    const r = await api('GET', '/api/v1/api-keys', undefined, { signal });
    if (signal.aborted) return;
    fill(tbody, r.data.length ? r.data.map((k) => keyRow(k, load, signal)) : emptyRow(5, 'No API keys yet.'));
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    created.hidden = true;
    try {
      const k = await busy(create, 'Creating…', () => api('POST', '/api/v1/api-keys', { name: name.value }, { signal }));
      showCreatedKey(created, k);
      name.value = '';
      await load();
    } catch (err) {
      showFormError(form, err);
    }
  });
  try {
    await load();
  } catch (err) {
    tbody.replaceChildren();
    pageError(root, err);
  }
}

// showCreatedKey shows a new key the only time the API gives it.
function showCreatedKey(box, k) {
  fill(box,
    el('p', { class: 'warning', id: 'api-key-warning' },
      el('strong', { text: 'Copy this key now: it is shown once. ' }),
      'webhookd keeps only its hash, so it cannot show it again; if it is lost, create another and revoke this one.'),
    el('div', { class: 'secret-row' },
      el('code', { id: 'api-key-value', class: 'secret', text: k.key }),
      copyButton(() => k.key, 'api-key-copy')),
    el('p', { class: 'muted small' }, 'Key ', el('strong', { text: k.name }), ' (', el('code', { text: k.prefix }), ').'));
  box.hidden = false;
}

function keyRow(k, reload, signal) {
  const box = el('div', { class: 'confirm', hidden: true });
  const revoke = el('button', {
    type: 'button', class: 'btn btn-small btn-danger api-key-revoke', text: 'Revoke…',
    on: {
      click: () => confirmBox(box,
        el('p', null, 'Revoke ', el('strong', { text: k.name }), '? Whatever uses it is refused from now on. This cannot be undone.'),
        { class: 'btn btn-danger api-key-revoke-yes', text: 'Revoke for good' },
        async (button) => {
          try {
            await busy(button, 'Revoking…', () => api('DELETE', '/api/v1/api-keys/' + enc(k.id), undefined, { signal }));
            flash('Revoked ' + k.name + '.', 'ok');
            await reload();
          } catch (err) {
            if (!quiet(err)) flash(err.message, 'error');
          }
        }),
    },
  });
  return el('tr', { class: 'api-key-row', dataset: { keyId: k.id } },
    el('td', { class: 'api-key-name' }, k.name),
    el('td', null, el('code', { text: k.prefix })),
    el('td', null, timeEl(k.createdAt)),
    el('td', null, k.lastUsedAt ? timeEl(k.lastUsedAt) : el('span', { class: 'muted', text: 'never' })),
    el('td', { class: 'row-actions' }, revoke, box));
}

export async function renderMembers() {
  const { root, signal } = startPage('members-page');
  const tbody = el('tbody', { id: 'member-rows' }, emptyRow(3, 'Loading…'));
  root.append(
    el('div', { class: 'page-head' }, el('h1', { text: 'Members' })),
    card(null, 'members-card',
      el('p', { class: 'muted small' }, 'The webhookd users of this tenant. They are added, disabled and removed on the server with ',
        el('code', { text: 'webhookd user create|disable|delete' }), '; the API lists them only.'),
      el('div', { class: 'table-wrap' },
        el('table', { class: 'table cards', id: 'member-table' },
          el('thead', null, el('tr', null, ['Email', 'State', 'Member since'].map((h) => el('th', { text: h })))),
          tbody))));
  try {
    const r = await api('GET', '/api/v1/members', undefined, { signal });
    if (signal.aborted) return;
    fill(tbody, r.data.map((m) => el('tr', { class: 'member-row', dataset: { memberId: m.id } },
      el('td', { class: 'member-email' }, m.email, m.you ? ' ' : null, m.you ? badge('you', 'info') : null),
      el('td', null, m.disabled ? badge('disabled', 'danger') : badge('active', 'ok')),
      el('td', null, timeEl(m.createdAt)))));
  } catch (err) {
    tbody.replaceChildren();
    pageError(root, err);
  }
}

export function renderAccount() {
  const { root, signal } = startPage('account-page', 'narrow-wide');
  const current = el('input', { id: 'pw-current', type: 'password', autocomplete: 'current-password', 'data-field': 'currentPassword' });
  const next = el('input', { id: 'pw-new', type: 'password', autocomplete: 'new-password', 'data-field': 'newPassword', minlength: 12 });
  const again = el('input', { id: 'pw-again', type: 'password', autocomplete: 'new-password', 'data-field': 'again' });
  const submit = el('button', { type: 'submit', id: 'pw-submit', class: 'btn btn-primary', text: 'Change password' });
  const result = el('div', { id: 'pw-result', class: 'result', hidden: true });
  const form = el('form', { id: 'pw-form', class: 'form', noValidate: true },
    field('Current password', current),
    field('New password', next, 'At least 12 characters.'),
    field('New password again', again),
    el('div', { class: 'form-error', hidden: true }),
    el('div', { class: 'actions' }, submit),
    result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    result.hidden = true;
    if (next.value !== again.value) {
      return showFormError(form, { message: 'again: does not match the new password', details: [{ field: 'again', message: 'does not match the new password' }] });
    }
    try {
      const r = await busy(submit, 'Changing…', () => api('POST', '/api/v1/auth/password',
        { currentPassword: current.value, newPassword: next.value }, { signal }));
      // The change ended every token of this user, this tab's too; the
      // answer is the new one.
      renewSession(r);
      form.reset();
      // API keys are not sign-ins: a key made with a stolen session
      // outlives the change, so say so and point at where to revoke it.
      result.replaceChildren('Password changed. Every other sign-in of yours has ended; this tab stays signed in. API keys keep working: revoke any you do not recognise on the ',
        el('a', { href: '#/api-keys', text: 'API keys' }), ' page.');
      result.hidden = false;
    } catch (err) {
      showFormError(form, err);
    }
  });
  root.append(
    el('div', { class: 'page-head' }, el('h1', { text: 'Your account' })),
    card(null, 'account-card',
      el('p', null, 'Signed in as ', el('strong', { id: 'account-email', text: session.user ? session.user.email : '' }), '.')),
    card('Change password', 'password-card', form));
}
