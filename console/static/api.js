// The API client: JSON over fetch with the session's bearer token, and
// what the console reads from the API once rather than copying it (the
// event catalogue, the inbox name rule).

import { session, sessionRefused } from './session.js';

export const LOGIN_PATH = '/api/v1/auth/login';
const OPENAPI_PATH = '/api/v1/openapi.json';

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const msg = (body && body.message) || fallback || 'HTTP ' + status;
    super(msg);
    this.status = status;
    this.details = (body && Array.isArray(body.details)) ? body.details : [];
    this.sessionEnded = false;
  }
}

// invalid is a client-side error in the API's shape, for one bad field.
export function invalid(field, message, detail) {
  return new ApiError(400, { message: field + ': ' + message, details: [{ field, message: detail || message }] });
}

export const enc = encodeURIComponent;

// apiPath appends a query built from params, leaving out empty values.
export function apiPath(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? path + '?' + s : path;
}

export function authHeaders(extra) {
  const h = Object.assign({}, extra);
  if (session.token) h.Authorization = 'Bearer ' + session.token;
  return h;
}

// api calls the JSON API. body is an object (sent as JSON), or
// {raw: 'json text'} to send text exactly as typed (so a payload's
// number forms and key order reach the receiver as written). opts may
// hold signal, and onResponse(res), called with a successful answer
// before its body is returned, for what the API says in headers.
export async function api(method, path, body, opts) {
  if (session.ended) {
    // A portal session has ended: nothing more is sent with it.
    const e = new ApiError(401, { message: 'this portal session has expired' });
    e.sessionEnded = true;
    throw e;
  }
  const init = {
    method,
    headers: authHeaders({ Accept: 'application/json' }),
    cache: 'no-store',
    signal: opts && opts.signal,
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = (body && typeof body.raw === 'string') ? body.raw : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, null, 'webhookd did not answer (' + err.message + '); is it running?');
  }
  const text = await res.text();
  const data = parseJSON(text);
  if (res.status === 401 && session.token && path !== LOGIN_PATH) {
    const e = new ApiError(401, data);
    e.sessionEnded = true;
    sessionRefused(e.message);
    throw e;
  }
  if (!res.ok) throw new ApiError(res.status, data, text.slice(0, 200));
  if (opts && opts.onResponse) opts.onResponse(res);
  return data;
}

// parseJSON is the value of JSON text, or null for no text or not JSON.
export function parseJSON(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_) {
    return null;
  }
}

// once runs fetch the first time key is asked for in this session and
// keeps its promise, so pages opened together share one request.
function once(key, fetch) {
  if (!session.cache.has(key)) {
    const p = fetch();
    session.cache.set(key, p);
    p.catch(() => {
      if (session.cache.get(key) === p) session.cache.delete(key);
    });
  }
  return session.cache.get(key);
}

// catalogue is GET /api/v1/event-types, asked once per session.
function catalogue() {
  return once('eventTypes', () => api('GET', '/api/v1/event-types'));
}

// eventTypes is the event catalogue's names, in order.
export async function eventTypes() {
  const r = await catalogue();
  return (r && r.data) || [];
}

// eventCatalog is what the catalogue says of each type, in order:
// [{name, description, schema, examples}], as the route's "types" has it.
export async function eventCatalog() {
  const r = await catalogue();
  const types = (r && r.types) || [];
  return types.length ? types : ((r && r.data) || []).map((name) => ({ name, description: '', schema: null, examples: [] }));
}

// eventExample is the data of the first example the catalogue gives for
// type, or {} when it gives none.
export async function eventExample(type) {
  const t = (await eventCatalog()).find((x) => x && x.name === type);
  const ex = t && Array.isArray(t.examples) ? t.examples[0] : undefined;
  return ex === undefined ? {} : ex;
}

// description is the API's own description of itself, openapi.json,
// where the console reads the rules the server owns.
function description() {
  return once('openapi', () => api('GET', OPENAPI_PATH));
}

// inboxNameRule is what an inbox may be called, as the API describes its
// own name parameter: {pattern: RegExp, text: words}.
export function inboxNameRule() {
  return once('inboxNameRule', async () => {
    const doc = await description();
    const op = doc?.paths?.['/api/v1/inboxes/{name}']?.get;
    const param = (op?.parameters || []).find((p) => p.name === 'name' && p.in === 'path');
    const pattern = param?.schema?.pattern;
    if (!pattern) throw new ApiError(0, null, OPENAPI_PATH + ' describes no inbox name');
    const words = String(param.description || '');
    return { pattern: new RegExp(pattern), text: words.slice(words.indexOf(': ') + 1).trim() };
  });
}

// webhookLimits are the bounds of a webhook's fields, by field name, as
// the API describes a new webhook: {name: {maxLength: 255}, ...}. A bound
// it does not give is simply not set on the form.
export async function webhookLimits() {
  const doc = await description();
  return doc?.components?.schemas?.WebhookCreate?.properties || {};
}
