// The sign-in page.

import { LOGIN_PATH, api } from '../api.js';
import { el } from '../dom.js';
import { startPage } from '../page.js';
import { startSession } from '../session.js';
import { busy, clearFormError, field, showFormError } from '../ui.js';

export function renderLogin() {
  const { root } = startPage('login-page', 'narrow');
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
  root.append(
    el('h1', { text: 'Sign in' }),
    el('p', { class: 'muted' },
      'Use the same email and password as ', el('code', { text: 'POST /api/v1/auth/login' }),
      '. On its first start webhookd printed the password of ', el('code', { text: 'admin@localhost' }), '.'),
    form,
    el('p', { class: 'muted small', text: 'The console keeps your access token in this tab\'s memory only: reloading the page signs you out.' }));
  email.focus();
}
