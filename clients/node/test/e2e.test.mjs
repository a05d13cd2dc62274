// The client against the real webhookd binary. e2e/node_client_test.go
// starts webhookd, makes the credentials and runs these tests with:
//   WEBHOOKD_URL          where webhookd serves
//   WEBHOOKD_API_KEY      a key of the tenant WEBHOOKD_TENANT
//   WEBHOOKD_SERVICE_KEY  a service key (acts for any tenant)
//   WEBHOOKD_TOKEN        an access token from POST /api/v1/auth/login
// Without WEBHOOKD_URL they are skipped. webhookd must run with
// --allow-private-targets: the receivers here listen on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebhookdClient, WebhookdError, verifySignature, WebhookVerificationError } from '../dist/index.js';

const env = process.env;
const skip = env.WEBHOOKD_URL ? false : 'WEBHOOKD_URL is not set (e2e/node_client_test.go runs these against the binary)';
const WAIT_MS = 60_000; // a bound, not an expectation: deliveries normally take milliseconds

let receiver;
let wd;

// startReceiver is an HTTP receiver that keeps every request's raw body
// and headers, and lets a test wait for one that matches.
function startReceiver() {
  const got = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const delivery = { path: req.url, headers: req.headers, raw: Buffer.concat(chunks) };
      got.push(delivery);
      for (const w of [...waiters]) w.check();
      res.writeHead(200).end('OK');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({
        url,
        got,
        close: () => new Promise((r) => server.close(r)),
        // waitFor resolves with the deliveries matching pred once there are n.
        waitFor(pred, n = 1) {
          return new Promise((resolve, reject) => {
            const w = {
              check() {
                const m = got.filter(pred);
                if (m.length >= n) {
                  clearTimeout(w.timer);
                  waiters.splice(waiters.indexOf(w), 1);
                  resolve(m);
                }
              },
            };
            w.timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              reject(new Error(`no ${n} matching deliveries within ${WAIT_MS}ms; got ${got.length}: ${got.map((d) => d.raw).join('\n')}`));
            }, WAIT_MS);
            waiters.push(w);
            w.check();
          });
        },
      });
    });
  });
}

const withNonce = (nonce) => (d) => d.raw.includes(nonce);

before(async () => {
  if (skip) return;
  receiver = await startReceiver();
  wd = new WebhookdClient({ baseUrl: env.WEBHOOKD_URL, apiKey: env.WEBHOOKD_API_KEY, retryBaseMs: 50 });
});

after(async () => {
  await receiver?.close();
});

// hook creates a webhook to the receiver for the test, deleted after it.
async function hook(t, fields = {}) {
  const created = await wd.createWebhook({ name: `node ${t.name}`, url: `${receiver.url}/${randomUUID()}`, events: ['message.*', 'campaign.*'], ...fields });
  t.after(() => wd.deleteWebhook(created.id).catch(() => {}));
  return created;
}

test('publish reaches a receiver, signed so that verifySignature accepts it', { skip }, async (t) => {
  const secret = 'whsec_' + Buffer.from(randomUUID() + randomUUID()).subarray(0, 32).toString('base64');
  const h = await hook(t, { secret });
  assert.equal(h.secret, secret);
  const nonce = randomUUID();
  const ev = await wd.publish('message.new', { messageId: nonce, content: 'Hello', amount: 2.5 });
  assert.equal(ev.event, 'message.new');
  assert.equal(ev.deliveries, 1);
  assert.equal(ev.replayed, false);
  const [d] = await receiver.waitFor((x) => x.path === new URL(h.url).pathname && x.raw.includes(nonce));

  const ok = verifySignature(d.raw, d.headers, secret);
  assert.equal(ok.scheme, 'standard-webhooks');
  assert.equal(ok.id, d.headers['x-webhook-id']);
  assert.ok(Math.abs(ok.timestamp - Date.now() / 1000) < 300);
  assert.deepEqual(JSON.parse(d.raw).data, { messageId: nonce, content: 'Hello', amount: 2.5 });
  // The X-Webhook-Signature scheme alone verifies it too, when allowed,
  // without the unsigned id and timestamp; by default it is refused.
  const legacyOnly = { 'x-webhook-signature': d.headers['x-webhook-signature'], 'webhook-id': d.headers['webhook-id'], 'webhook-timestamp': d.headers['webhook-timestamp'] };
  assert.deepEqual(verifySignature(d.raw, legacyOnly, secret, { allowLegacySignature: true }), { id: undefined, timestamp: undefined, scheme: 'x-webhook-signature' });
  assert.throws(() => verifySignature(d.raw, legacyOnly, secret), { reason: 'missing_headers' });
  // And a fetch Headers works as well as Node's object.
  assert.equal(verifySignature(d.raw, new Headers(d.headers), [secret]).id, ok.id);

  // The real delivery, tampered with, replayed late, or checked with the
  // wrong secret, is refused.
  const tampered = Buffer.from(d.raw.toString().replace('Hello', 'Hellp'));
  assert.throws(() => verifySignature(tampered, d.headers, secret), WebhookVerificationError);
  assert.throws(() => verifySignature(d.raw, d.headers, secret, { now: Date.now() + 301_000 }), { reason: 'timestamp_too_old' });
  assert.throws(() => verifySignature(d.raw, d.headers, 'whsec_' + Buffer.alloc(32).toString('base64')), { reason: 'no_matching_signature' });

  const stored = await wd.getEvent(ev.id);
  assert.equal(stored.idempotencyKey, ev.idempotencyKey);
  assert.equal(stored.deliveries, 1);
});

test('publish with the same idempotency key answers the first event', { skip }, async () => {
  const key = `node-${randomUUID()}`;
  const first = await wd.publish('campaign.completed', { campaignId: 'cmp_1' }, { idempotencyKey: key });
  const again = await wd.publish('campaign.completed', { campaignId: 'cmp_1' }, { idempotencyKey: key });
  assert.equal(again.id, first.id);
  assert.equal(again.replayed, true);
  // The same key with other content is a conflict, not a replay.
  await assert.rejects(wd.publish('campaign.completed', { campaignId: 'cmp_2' }, { idempotencyKey: key }), (err) => {
    assert.ok(err instanceof WebhookdError);
    assert.equal(err.status, 422);
    assert.equal(err.field, 'Idempotency-Key');
    return true;
  });
});

test('publishBatch publishes every event once, and a retried call replays them', { skip }, async (t) => {
  const h = await hook(t);
  const nonce = randomUUID();
  const events = [
    { event: 'message.new', data: { messageId: `${nonce}-1` } },
    { event: 'campaign.started', data: { campaignId: `${nonce}-2`, contactId: 'c1' } },
  ];
  const key = randomUUID();
  const got = await wd.publishBatch(events, { idempotencyKey: key });
  assert.deepEqual(got.map((r) => [r.event, r.deliveries, r.replayed, r.idempotencyKey]),
    [['message.new', 1, false, `${key}:0`], ['campaign.started', 1, false, `${key}:1`]]);
  const again = await wd.publishBatch(events, { idempotencyKey: key });
  assert.deepEqual(again.map((r) => [r.id, r.replayed]), got.map((r) => [r.id, true]));
  const delivered = await receiver.waitFor((d) => d.path === new URL(h.url).pathname && d.raw.includes(nonce), 2);
  for (const d of delivered) verifySignature(d.raw, d.headers, h.secret);

  // One bad event refuses the whole batch, naming it.
  await assert.rejects(wd.publishBatch([events[0], { event: 'webhook.disabled', data: {} }]), (err) => {
    assert.equal(err.status, 400);
    assert.match(err.field, /^events\[1\]\./);
    return true;
  });
});

// startFlakyProxy stands between the client and webhookd. Its first
// request gets its connection cut; the next two are forwarded to webhookd
// but answered 503, then 429 Retry-After: 1, as if webhookd's answer were
// lost; later ones pass through. It records what webhookd answered.
function startFlakyProxy(target) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const n = seen.length + 1;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const entry = { key: req.headers['idempotency-key'], upstream: null };
      seen.push(entry);
      if (n === 1) {
        req.socket.destroy();
        return;
      }
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      const up = await fetch(target + req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
      const text = await up.text();
      entry.upstream = { status: up.status, replayed: up.headers.get('idempotent-replayed') === 'true', body: JSON.parse(text) };
      if (n === 2) {
        res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'proxy: upstream answer lost' }));
      } else if (n === 3) {
        res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '1' }).end(JSON.stringify({ statusCode: 429, error: 'Too Many Requests', message: 'proxy: slow down' }));
      } else {
        res.writeHead(up.status, { 'Content-Type': 'application/json', ...(entry.upstream.replayed ? { 'Idempotent-Replayed': 'true' } : {}) }).end(text);
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) }));
  });
}

test('retries after a cut connection, 503 and 429 store the event once', { skip }, async (t) => {
  const h = await hook(t);
  const proxy = await startFlakyProxy(env.WEBHOOKD_URL);
  t.after(() => proxy.close());
  const flaky = new WebhookdClient({ baseUrl: proxy.url, apiKey: env.WEBHOOKD_API_KEY, retries: 3, retryBaseMs: 20 });
  const nonce = randomUUID();
  const started = Date.now();
  const ev = await flaky.publish('message.new', { messageId: nonce });

  assert.equal(proxy.seen.length, 4, 'one cut connection, then three attempts');
  assert.deepEqual(proxy.seen.map((s) => s.key), Array(4).fill(ev.idempotencyKey), 'the same key on every attempt');
  // webhookd stored the event on the first request that reached it and
  // replayed it on the others.
  const up = proxy.seen.slice(1).map((s) => [s.upstream.status, s.upstream.replayed, s.upstream.body.id]);
  assert.deepEqual(up, [[202, false, ev.id], [202, true, ev.id], [202, true, ev.id]]);
  assert.equal(ev.replayed, true);
  // A lower bound only (timers may fire a millisecond early by Date.now()).
  assert.ok(Date.now() - started >= 900, 'the client waited out Retry-After: 1');
  const stored = await wd.getEvent(ev.id);
  assert.equal(stored.deliveries, 1);
  const [d] = await receiver.waitFor((x) => x.path === new URL(h.url).pathname && x.raw.includes(nonce));
  verifySignature(d.raw, d.headers, h.secret);
});

test('webhook management: list, get, update, rotate, test, delete', { skip }, async (t) => {
  const h = await hook(t, { description: 'from the node client' });
  assert.match(h.secret, /^whsec_/);

  const listed = [];
  for await (const w of wd.allWebhooks({ limit: 1 })) listed.push(w);
  const mine = listed.find((w) => w.id === h.id);
  assert.ok(mine, 'allWebhooks lists the new webhook');
  assert.notEqual(mine.secret, h.secret, 'lists mask the secret');
  assert.equal((await wd.getWebhook(h.id)).secret, h.secret);

  const updated = await wd.updateWebhook(h.id, { name: 'renamed', events: ['message.new'] });
  assert.equal(updated.name, 'renamed');
  assert.deepEqual(updated.events, ['message.new']);
  assert.equal(updated.description, 'from the node client');

  // Rotate to a secret of our choosing: during the grace period a
  // receiver holding either secret verifies webhook-signature.
  const next = 'whsec_' + Buffer.from(randomUUID().replaceAll('-', '')).toString('base64');
  const rotated = await wd.rotateSecret(h.id, { secret: next });
  assert.equal(rotated.secret, next);
  assert.ok(rotated.previousSecretExpiresAt);
  const res = await wd.testWebhook(h.id, { eventType: 'message.new', payload: { messageId: 'test_rotation' } });
  assert.equal(res.success, true, res.error ?? '');
  assert.equal(res.statusCode, 200);
  const [d] = await receiver.waitFor((x) => x.path === new URL(h.url).pathname && x.raw.includes('test_rotation'));
  assert.equal(verifySignature(d.raw, d.headers, next).scheme, 'standard-webhooks');
  assert.equal(verifySignature(d.raw, d.headers, h.secret).scheme, 'standard-webhooks');
  assert.equal(verifySignature(d.raw, d.headers, [h.secret, next]).scheme, 'standard-webhooks');
  // X-Webhook-Signature carries the new secret's signature only.
  const legacy = { 'x-webhook-signature': d.headers['x-webhook-signature'] };
  assert.equal(verifySignature(d.raw, legacy, next, { allowLegacySignature: true }).scheme, 'x-webhook-signature');
  assert.throws(() => verifySignature(d.raw, legacy, h.secret, { allowLegacySignature: true }), { reason: 'no_matching_signature' });

  await wd.deleteWebhook(h.id);
  await assert.rejects(wd.getWebhook(h.id), (err) => {
    assert.ok(err instanceof WebhookdError);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'Not Found');
    return true;
  });
});

test('errors carry the API\'s status, code, message and field', { skip }, async () => {
  await assert.rejects(wd.createWebhook({ name: '', url: 'not a url', events: [] }), (err) => {
    assert.ok(err instanceof WebhookdError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'Bad Request');
    assert.ok(err.details.length >= 2, JSON.stringify(err.details));
    assert.ok(['name', 'url', 'events'].includes(err.field), err.field);
    return true;
  });
  const bad = new WebhookdClient({ baseUrl: env.WEBHOOKD_URL, apiKey: 'whk_not_a_key' });
  await assert.rejects(bad.listWebhooks(), { status: 401 });
});

test('a service key acts for the tenant named, and a token works like a key', { skip }, async (t) => {
  const service = new WebhookdClient({ baseUrl: env.WEBHOOKD_URL, apiKey: env.WEBHOOKD_SERVICE_KEY, tenant: env.WEBHOOKD_TENANT });
  const h = await service.createWebhook({ name: 'node service', url: `${receiver.url}/${randomUUID()}`, events: ['message.*'] });
  t.after(() => service.deleteWebhook(h.id).catch(() => {}));
  assert.equal(h.tenant, env.WEBHOOKD_TENANT);
  const nonce = randomUUID();
  const ev = await service.publish('message.new', { messageId: nonce });
  // Every webhook of the tenant that matches gets it, this one included.
  assert.ok(ev.deliveries >= 1);
  assert.equal((await wd.getEvent(ev.id)).tenant, env.WEBHOOKD_TENANT);
  const batch = await service.publishBatch([{ event: 'message.new', data: { messageId: `${nonce}-b` } }]);
  assert.equal(batch.length, 1);
  await receiver.waitFor((d) => d.path === new URL(h.url).pathname, 2);

  const byToken = new WebhookdClient({ baseUrl: env.WEBHOOKD_URL, token: env.WEBHOOKD_TOKEN });
  assert.equal((await byToken.getWebhook(h.id)).id, h.id);
});
