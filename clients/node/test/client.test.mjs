// WebhookdClient's retry rules and errors, with an injected fetch that
// plays the server's part. The same against the real binary is in
// e2e.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebhookdClient, WebhookdError, parseRetryAfter, catalogEventTypes } from '../dist/index.js';

// fakeFetch answers each call with the next of answers: a Response, or an
// Error to throw (a connection error). It records every request.
function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, method: init.method, redirect: init.redirect, headers: new Headers(init.headers), body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const next = answers.shift();
    if (next === undefined) throw new Error('fakeFetch: no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fn, calls };
}

function json(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function connectionRefused() {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
}

const accepted = { id: 'evt_1', event: 'message.new', deliveries: 2 };

function client(fetch, extra = {}) {
  return new WebhookdClient({ baseUrl: 'http://webhookd.test/', apiKey: 'whk_test', fetch, retryBaseMs: 1, ...extra });
}

test('publish retries connection errors, 5xx and 429 with one idempotency key', async () => {
  const f = fakeFetch([
    connectionRefused(),
    json(502, { statusCode: 502, error: 'Bad Gateway', message: 'proxy' }),
    json(429, { statusCode: 429, error: 'Too Many Requests', message: 'slow down' }, { 'Retry-After': '0' }),
    json(202, accepted, { 'Idempotent-Replayed': 'true' }),
  ]);
  const got = await client(f.fn).publish('message.new', { messageId: 'm1' }, { tenant: 'acme' });
  assert.equal(f.calls.length, 4);
  const keys = new Set(f.calls.map((c) => c.headers.get('Idempotency-Key')));
  assert.equal(keys.size, 1, `one key on every attempt, got ${[...keys]}`);
  assert.match(got.idempotencyKey, /^[0-9a-f-]{36}$/);
  assert.deepEqual(got, { ...accepted, replayed: true, idempotencyKey: [...keys][0] });
  for (const c of f.calls) {
    assert.equal(c.url, 'http://webhookd.test/api/v1/events');
    assert.equal(c.headers.get('Authorization'), 'Bearer whk_test');
    assert.deepEqual(c.body, { event: 'message.new', data: { messageId: 'm1' }, tenant: 'acme' });
  }
});

test('two publish calls use two keys; a given key is used as is', async () => {
  const f = fakeFetch([json(202, accepted), json(202, accepted), json(202, accepted)]);
  const c = client(f.fn);
  await c.publish('message.new', {});
  await c.publish('message.new', {});
  await c.publish('message.new', {}, { idempotencyKey: 'acme-msg-1', timestamp: new Date(Date.UTC(2024, 0, 1)) });
  const keys = f.calls.map((x) => x.headers.get('Idempotency-Key'));
  assert.notEqual(keys[0], keys[1]);
  assert.equal(keys[2], 'acme-msg-1');
  assert.equal(f.calls[2].body.timestamp, '2024-01-01T00:00:00.000Z');
});

test('publishBatch derives each event key from one key per call and keeps it across retries', async () => {
  const results = { data: [{ id: 'e1', event: 'message.new', deliveries: 1, replayed: false }, { id: 'e2', event: 'campaign.started', deliveries: 0, replayed: true }] };
  const f = fakeFetch([json(503, { statusCode: 503, error: 'Service Unavailable', message: 'database' }, { 'Retry-After': '0' }), json(202, results)]);
  const got = await client(f.fn, { tenant: 'acme' }).publishBatch([
    { event: 'message.new', data: { a: 1 } },
    { event: 'campaign.started', data: { b: 2 }, idempotencyKey: 'mine' },
  ]);
  assert.equal(f.calls.length, 2);
  assert.deepEqual(f.calls[0].body, f.calls[1].body);
  const [first, second] = f.calls[0].body.events;
  assert.match(first.idempotencyKey, /^[0-9a-f-]{36}:0$/);
  assert.equal(second.idempotencyKey, 'mine');
  assert.equal(f.calls[0].body.tenant, 'acme');
  assert.equal(f.calls[0].headers.get('Idempotency-Key'), null, 'the batch route refuses the header');
  assert.deepEqual(got.map((r) => [r.id, r.replayed, r.idempotencyKey]), [['e1', false, first.idempotencyKey], ['e2', true, 'mine']]);
});

test('a 4xx is not retried and becomes a WebhookdError with the body\'s fields', async () => {
  const body = { statusCode: 400, error: 'Bad Request', message: 'data.messageId: must be a string', details: [{ field: 'data.messageId', message: 'must be a string' }] };
  const f = fakeFetch([json(400, body)]);
  await assert.rejects(client(f.fn).publish('message.new', { messageId: 1 }), (err) => {
    assert.ok(err instanceof WebhookdError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'Bad Request');
    assert.equal(err.message, 'data.messageId: must be a string');
    assert.equal(err.field, 'data.messageId');
    assert.deepEqual(err.details, body.details);
    assert.equal(err.attempts, 1);
    return true;
  });
  assert.equal(f.calls.length, 1);
});

test('retries stop after options.retries and report the last failure', async () => {
  const f = fakeFetch([connectionRefused(), connectionRefused(), connectionRefused()]);
  await assert.rejects(client(f.fn, { retries: 2 }).publish('message.new', {}), (err) => {
    assert.ok(err instanceof WebhookdError);
    assert.equal(err.status, 0);
    assert.equal(err.code, 'network_error');
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(err.attempts, 3);
    return true;
  });
  assert.equal(f.calls.length, 3);
});

test('a Retry-After longer than retryMaxMs is not waited for', async () => {
  const f = fakeFetch([json(429, { statusCode: 429, error: 'Too Many Requests', message: 'later' }, { 'Retry-After': '3600' })]);
  await assert.rejects(client(f.fn, { retryMaxMs: 1000 }).publish('message.new', {}), (err) => {
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 3_600_000);
    return true;
  });
  assert.equal(f.calls.length, 1);
});

test('a Retry-After HTTP date is honoured', async () => {
  const at = new Date(Date.now() + 1500);
  const f = fakeFetch([json(429, { statusCode: 429, error: 'Too Many Requests', message: 'later' }, { 'Retry-After': at.toUTCString() }), json(202, accepted)]);
  await client(f.fn).publish('message.new', {});
  assert.equal(f.calls.length, 2);
  // HTTP dates have whole seconds: the wait is up to 1.5s from the date's second.
  assert.ok(Date.now() >= Math.floor(at.getTime() / 1000) * 1000, 'the retry came before the date');
});

test('parseRetryAfter reads seconds and HTTP dates', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);
  assert.equal(parseRetryAfter('5', now), 5000);
  assert.equal(parseRetryAfter('Mon, 01 Jan 2024 12:00:10 GMT', now), 10_000);
  assert.equal(parseRetryAfter('Mon, 01 Jan 2024 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

test('createWebhook is not retried after a connection error, but is after 503', async () => {
  const hook = { id: 'wh_1', name: 'n', url: 'https://example.com', events: ['message.*'] };
  const refused = fakeFetch([connectionRefused(), json(201, hook)]);
  await assert.rejects(client(refused.fn).createWebhook({ name: 'n', url: 'https://example.com', events: ['message.*'] }), { code: 'network_error' });
  assert.equal(refused.calls.length, 1);
  const unavailable = fakeFetch([json(503, { statusCode: 503, error: 'Service Unavailable', message: 'db' }, { 'Retry-After': '0' }), json(201, hook)]);
  assert.deepEqual(await client(unavailable.fn).createWebhook({ name: 'n', url: 'https://example.com', events: ['message.*'] }), hook);
  assert.equal(unavailable.calls.length, 2);
});

test('management calls send the tenant in the Webhookd-Tenant header', async () => {
  const f = fakeFetch([json(200, { data: [], nextCursor: null }), new Response(null, { status: 204 })]);
  const c = client(f.fn, { tenant: 'acme' });
  assert.deepEqual(await c.listWebhooks({ limit: 10 }), { data: [], nextCursor: null });
  await c.deleteWebhook('wh/1', { tenant: 'other' });
  assert.equal(f.calls[0].url, 'http://webhookd.test/api/v1/webhooks?limit=10');
  assert.equal(f.calls[0].headers.get('Webhookd-Tenant'), 'acme');
  assert.equal(f.calls[1].url, 'http://webhookd.test/api/v1/webhooks/wh%2F1');
  assert.equal(f.calls[1].method, 'DELETE');
  assert.equal(f.calls[1].headers.get('Webhookd-Tenant'), 'other');
});

test('a timeout is retried and reported as such', async () => {
  // A fetch that never answers until its signal fires, as a hung server.
  let calls = 0;
  const hang = (url, init) => new Promise((_, reject) => {
    calls++;
    // AbortSignal.timeout's timer does not keep Node running; a real
    // request's socket would, and this timer stands in for it.
    const socket = setTimeout(() => {}, 60_000);
    init.signal.addEventListener('abort', () => {
      clearTimeout(socket);
      reject(init.signal.reason);
    });
  });
  await assert.rejects(client(hang, { timeoutMs: 20, retries: 1 }).publish('message.new', {}), { status: 0, code: 'timeout' });
  assert.equal(calls, 2);
});

test('the constructor refuses bad options', () => {
  assert.throws(() => new WebhookdClient({ baseUrl: 'http://x' }), /apiKey or token/);
  assert.throws(() => new WebhookdClient({ baseUrl: 'nope', apiKey: 'k' }), /not a URL/);
  assert.throws(() => new WebhookdClient({ baseUrl: 'http://x', apiKey: 'k', token: 't' }), /not both/);
  assert.throws(() => new WebhookdClient({ baseUrl: 'http://x', apiKey: 'k', retries: -1 }), /retries/);
});

test('the catalogue names are exported', () => {
  assert.ok(catalogEventTypes.includes('message.new'));
});

function notFound() {
  return json(404, { statusCode: 404, error: 'Not Found', message: 'webhook not found' });
}

test('deleteWebhook: a 404 on a retry is success, as the lost first attempt may have deleted it', async () => {
  // The first DELETE's answer is lost (a reset after webhookd deleted it);
  // the retry finds nothing.
  const lost = fakeFetch([connectionRefused(), notFound()]);
  assert.equal(await client(lost.fn).deleteWebhook('wh_1'), undefined);
  assert.deepEqual(lost.calls.map((c) => c.method), ['DELETE', 'DELETE']);
  // The same after a gateway's 502 and after a timeout-like 504.
  const gateway = fakeFetch([json(502, { statusCode: 502, error: 'Bad Gateway', message: 'proxy' }), json(504, null), notFound()]);
  await client(gateway.fn).deleteWebhook('wh_1');
  assert.equal(gateway.calls.length, 3);
  // A 404 on the first attempt still throws: the webhook was not there.
  const first = fakeFetch([notFound()]);
  await assert.rejects(client(first.fn).deleteWebhook('wh_1'), (err) => {
    assert.ok(err instanceof WebhookdError);
    assert.equal(err.status, 404);
    assert.equal(err.attempts, 1);
    return true;
  });
  assert.equal(first.calls.length, 1);
  // Other calls keep a 404 on a retry an error.
  const read = fakeFetch([connectionRefused(), notFound()]);
  await assert.rejects(client(read.fn).getWebhook('wh_1'), { status: 404, attempts: 2 });
  // And other 4xx on a DELETE retry are still errors.
  const forbidden = fakeFetch([connectionRefused(), json(403, { statusCode: 403, error: 'Forbidden', message: 'no' })]);
  await assert.rejects(client(forbidden.fn).deleteWebhook('wh_1'), { status: 403, attempts: 2 });
});

test('redirects are never followed: every request asks for manual redirects, and a 3xx is a WebhookdError', async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    const f = fakeFetch([new Response(null, { status, headers: { Location: 'https://elsewhere.example/collect' } }), json(202, accepted)]);
    await assert.rejects(client(f.fn).publish('message.new', { secret: 'data' }, { idempotencyKey: 'k1' }), (err) => {
      assert.ok(err instanceof WebhookdError, `${status}: ${err}`);
      assert.equal(err.status, status);
      assert.equal(err.code, 'redirect');
      assert.match(err.message, /redirect/);
      assert.match(err.message, /https:\/\/elsewhere\.example\/collect/);
      assert.equal(err.attempts, 1);
      return true;
    });
    // Not retried, and nothing sent to the Location.
    assert.equal(f.calls.length, 1, `${status}: not retried`);
    assert.equal(f.calls[0].url, 'http://webhookd.test/api/v1/events');
    assert.equal(f.calls[0].redirect, 'manual');
  }
  // Management calls too, and a browser-style opaque redirect (status 0).
  const opaque = { type: 'opaqueredirect', status: 0, ok: false, headers: new Headers(), body: null, text: async () => '' };
  const f = fakeFetch([opaque]);
  await assert.rejects(client(f.fn).deleteWebhook('wh_1'), { code: 'redirect', status: 0 });
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].redirect, 'manual');
});

test('every kind of call passes redirect: manual to fetch', async () => {
  const hook = { id: 'wh_1' };
  const f = fakeFetch([json(202, accepted), json(202, { data: [] }), json(200, hook), json(201, hook), json(200, hook), new Response(null, { status: 204 })]);
  const c = client(f.fn);
  await c.publish('message.new', {});
  await c.publishBatch([{ event: 'message.new', data: {} }]);
  await c.getWebhook('wh_1');
  await c.createWebhook({ name: 'n', url: 'https://example.com', events: ['message.*'] });
  await c.updateWebhook('wh_1', { name: 'm' });
  await c.deleteWebhook('wh_1');
  assert.deepEqual(f.calls.map((x) => x.redirect), Array(6).fill('manual'));
});

test('against a real server, a 307 is not followed', async () => {
  const http = await import('node:http');
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    if (req.url === '/api/v1/events') {
      res.writeHead(307, { Location: '/stolen' }).end();
    } else {
      res.writeHead(202, { 'Content-Type': 'application/json' }).end(JSON.stringify(accepted));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const c = new WebhookdClient({ baseUrl: `http://127.0.0.1:${server.address().port}`, apiKey: 'whk_test', retryBaseMs: 1 });
    await assert.rejects(c.publish('message.new', {}), { code: 'redirect', status: 307 });
    assert.deepEqual(hits, ['/api/v1/events']);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
