// The sign-in page.

import { LOGIN_PATH, api } from '../api.js';
import { el } from '../dom.js';
import { startPage } from '../page.js';
import { startSession } from '../session.js';
import { busy, clearFormError, field, showFormError } from '../ui.js';

export function renderLogin() {
  const { root, signal } = startPage('login-page', 'narrow');
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
      startSession(r);
    } catch (err) {
      showFormError(form, err);
      password.select();
    }
  });
  const hint = el('p', { class: 'muted', id: 'login-hint' },
    'Use the same email and password as ', el('code', { text: 'POST /api/v1/auth/login' }), '.');
  root.append(
    el('h1', { text: 'Sign in' }),
    hint,
    form,
    el('p', { class: 'muted small', text: 'The console keeps your access token in this tab\'s memory only: reloading the page signs you out.' }));
  email.focus();
  firstUserHint(hint, signal);
}

// firstUserHint names the first user webhookd created on this start,
// whose password it printed on its terminal, while that user has not
// signed in yet; otherwise the page names no email (it is public).
async function firstUserHint(hint, signal) {
  let cfg;
  try {
    cfg = await api('GET', '/api/v1/console/config', undefined, { signal });
  } catch (_) {
    return; // an older webhookd, or none: the page works without it
  }
  if (signal.aborted || !cfg || !cfg.firstUserEmail) return;
  hint.append(' When it started, webhookd created the first user, ',
    el('code', { id: 'login-first-user', text: cfg.firstUserEmail }), ', and printed its password on its terminal.');
}
