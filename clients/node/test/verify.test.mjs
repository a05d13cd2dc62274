// verifySignature against the Standard Webhooks specification's vector and
// against signatures made the way delivery/sign.go makes them. Deliveries
// from the real binary are verified in e2e.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { verifySignature, signingKey, WebhookVerificationError } from '../dist/index.js';

const vector = JSON.parse(readFileSync(new URL('../../../testdata/standard-webhooks-vector.json', import.meta.url), 'utf8'));
const vectorNow = vector.timestamp * 1000;

// sign makes both of webhookd's headers for body, as delivery/sign.go does;
// secrets after the first add further webhook-signature entries, as during
// a rotation's grace period.
function sign(body, id, timestamp, ...secrets) {
  const standard = secrets.map((s) => 'v1,' + createHmac('sha256', signingKey(s)).update(`${id}.${timestamp}.${body}`).digest('base64'));
  return {
    'Content-Type': 'application/json',
    'X-Webhook-Id': id,
    'X-Webhook-Signature': 'sha256=' + createHmac('sha256', secrets[0]).update(body).digest('hex'),
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': standard.join(' '),
  };
}

const body = '{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"n":2.50}}';
const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const oldSecret = 'whsec_' + Buffer.from('an older secret, before rotation').toString('base64');
const now = 1_700_000_000;

function rejects(fn, reason) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof WebhookVerificationError, `want a WebhookVerificationError, got ${err}`);
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

test('the specification vector verifies', () => {
  const headers = { 'webhook-id': vector.msgId, 'webhook-timestamp': String(vector.timestamp), 'webhook-signature': vector.signature };
  const got = verifySignature(vector.payload, headers, vector.secret, { now: vectorNow });
  assert.deepEqual(got, { id: vector.msgId, timestamp: vector.timestamp, scheme: 'standard-webhooks' });
});

test('headers in any case, as a Headers instance, and array values', () => {
  const h = sign(body, 'dlv_1', now, secret);
  const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v]));
  assert.equal(verifySignature(Buffer.from(body), upper, secret, { now: now * 1000 }).id, 'dlv_1');
  assert.equal(verifySignature(new TextEncoder().encode(body), new Headers(h), secret, { now: new Date(now * 1000) }).id, 'dlv_1');
  const arrays = { ...h, 'webhook-signature': ['v1,' + Buffer.alloc(32).toString('base64'), h['webhook-signature']] };
  assert.equal(verifySignature(body, arrays, secret, { now: now * 1000 }).scheme, 'standard-webhooks');
});

test('a tampered body is rejected', () => {
  const h = sign(body, 'dlv_1', now, secret);
  rejects(() => verifySignature(body.replace('2.50', '2.5'), h, secret, { now: now * 1000 }), 'no_matching_signature');
  // The same through the X-Webhook-Signature scheme alone, when allowed.
  const legacy = { 'x-webhook-signature': h['X-Webhook-Signature'] };
  rejects(() => verifySignature(body + ' ', legacy, secret, { now: now * 1000, allowLegacySignature: true }), 'no_matching_signature');
});

test('an old or a future timestamp is rejected; the tolerance is an option', () => {
  const h = sign(body, 'dlv_1', now - 301, secret);
  rejects(() => verifySignature(body, h, secret, { now: now * 1000 }), 'timestamp_too_old');
  assert.equal(verifySignature(body, h, secret, { now: now * 1000, toleranceSeconds: 600 }).timestamp, now - 301);
  const ahead = sign(body, 'dlv_1', now + 301, secret);
  rejects(() => verifySignature(body, ahead, secret, { now: now * 1000 }), 'timestamp_too_new');
  rejects(() => verifySignature(body, { ...h, 'webhook-timestamp': '17e8' }, secret, { now: now * 1000 }), 'invalid_timestamp');
  // Within the tolerance.
  assert.equal(verifySignature(body, sign(body, 'dlv_1', now - 300, secret), secret, { now: now * 1000 }).timestamp, now - 300);
});

test('a wrong secret is rejected, and no secret is an error', () => {
  const h = sign(body, 'dlv_1', now, secret);
  rejects(() => verifySignature(body, h, oldSecret, { now: now * 1000 }), 'no_matching_signature');
  rejects(() => verifySignature(body, h, [], { now: now * 1000 }), 'no_secret');
  rejects(() => verifySignature(body, h, '', { now: now * 1000 }), 'no_secret');
});

test('during a rotation, a list of secrets verifies either signature', () => {
  // webhookd signs with the new and the previous secret; a receiver that
  // has learnt only one of them, or both in either order, accepts.
  const h = sign(body, 'dlv_2', now, secret, oldSecret);
  for (const secrets of [[secret], [oldSecret], [secret, oldSecret], [oldSecret, secret], ['whsec_other', oldSecret]]) {
    assert.equal(verifySignature(body, h, secrets, { now: now * 1000 }).id, 'dlv_2', `secrets ${secrets}`);
  }
  // After the grace period only the new secret signs: the old alone fails.
  const after = sign(body, 'dlv_3', now, secret);
  assert.equal(verifySignature(body, after, [oldSecret, secret], { now: now * 1000 }).id, 'dlv_3');
  rejects(() => verifySignature(body, after, [oldSecret], { now: now * 1000 }), 'no_matching_signature');
});

test('X-Webhook-Signature alone verifies with allowLegacySignature, with the secret string, whsec_ prefix and all', () => {
  const h = sign(body, 'dlv_4', now, secret);
  const legacy = { 'X-Webhook-Signature': h['X-Webhook-Signature'] };
  assert.deepEqual(verifySignature(body, legacy, [oldSecret, secret], { now: now * 1000, allowLegacySignature: true }),
    { id: undefined, timestamp: undefined, scheme: 'x-webhook-signature' });
  // A plain secret (no whsec_) signs both schemes with its own bytes.
  const plain = sign(body, 'dlv_5', now, 'plain-secret');
  assert.equal(verifySignature(body, plain, 'plain-secret', { now: now * 1000 }).scheme, 'standard-webhooks');
});

test('missing headers are rejected', () => {
  const h = sign(body, 'dlv_1', now, secret);
  rejects(() => verifySignature(body, {}, secret, { now: now * 1000 }), 'missing_headers');
  const noId = { ...h };
  delete noId['webhook-id'];
  rejects(() => verifySignature(body, noId, secret, { now: now * 1000 }), 'missing_headers');
});

test('a whsec_ secret that is not valid base64 signs with its own bytes, as webhookd does', () => {
  assert.deepEqual(signingKey('whsec_not base64!'), Buffer.from('whsec_not base64!'));
  assert.deepEqual(signingKey('whsec_QUJD'), Buffer.from('ABC'));
  assert.deepEqual(signingKey('whsec_QUI'), Buffer.from('whsec_QUI')); // unpadded: Go's StdEncoding refuses it
});

test('a parsed body is refused with a clear error', () => {
  assert.throws(() => verifySignature({ event: 'x' }, {}, secret), /raw body/);
});

test('X-Webhook-Signature alone is refused by default: stripped headers cannot downgrade', () => {
  const h = sign(body, 'dlv_6', now, secret);
  // An attacker keeps the body's signature, drops webhook-signature, and
  // sends a fresh id and timestamp of their own.
  const stripped = { 'X-Webhook-Signature': h['X-Webhook-Signature'], 'webhook-id': 'dlv_fresh', 'webhook-timestamp': String(now) };
  rejects(() => verifySignature(body, stripped, secret, { now: now * 1000 }), 'missing_headers');
  rejects(() => verifySignature(body, stripped, secret, { now: now * 1000, allowLegacySignature: false }), 'missing_headers');
  assert.throws(() => verifySignature(body, stripped, secret, { now: now * 1000 }), /allowLegacySignature/);
  // Allowed, it verifies, but the unsigned id and timestamp are not returned.
  const got = verifySignature(body, stripped, secret, { now: now * 1000, allowLegacySignature: true });
  assert.deepEqual(got, { id: undefined, timestamp: undefined, scheme: 'x-webhook-signature' });
  // A replay years later with an unsigned stale timestamp gives no timestamp either.
  const stale = { ...stripped, 'webhook-timestamp': String(now - 10 * 365 * 86400) };
  assert.equal(verifySignature(body, stale, secret, { now: now * 1000, allowLegacySignature: true }).timestamp, undefined);
  // With webhook-signature present, allowLegacySignature changes nothing:
  // the Standard Webhooks scheme decides, and a wrong one is not rescued.
  const full = sign(body, 'dlv_6', now, secret);
  assert.equal(verifySignature(body, full, secret, { now: now * 1000, allowLegacySignature: true }).scheme, 'standard-webhooks');
  const forged = { ...full, 'webhook-signature': 'v1,' + Buffer.alloc(32).toString('base64') };
  rejects(() => verifySignature(body, forged, secret, { now: now * 1000, allowLegacySignature: true }), 'no_matching_signature');
  rejects(() => verifySignature(body, { ...full, 'webhook-timestamp': String(now - 301) }, secret, { now: now * 1000, allowLegacySignature: true }), 'timestamp_too_old');
  // Standard headers without webhook-id or webhook-timestamp are refused either way.
  for (const name of ['webhook-id', 'webhook-timestamp']) {
    const missing = { ...full };
    delete missing[name];
    rejects(() => verifySignature(body, missing, secret, { now: now * 1000, allowLegacySignature: true }), 'missing_headers');
  }
});

test('an invalid toleranceSeconds or now is a TypeError, never a disabled timestamp check', () => {
  // Even a delivery from long ago: the check must not be skipped.
  const h = sign(body, 'dlv_7', now - 10 * 365 * 86400, secret);
  for (const toleranceSeconds of [NaN, -1, -0.5, Infinity, -Infinity, '300', null]) {
    assert.throws(() => verifySignature(body, h, secret, { now: now * 1000, toleranceSeconds }), TypeError, `toleranceSeconds ${toleranceSeconds}`);
  }
  for (const bad of [new Date('not a date'), NaN, Infinity, -Infinity, '2024-01-01', null]) {
    assert.throws(() => verifySignature(body, h, secret, { now: bad }), TypeError, `now ${bad}`);
  }
  // Invalid options are refused before any header is looked at.
  assert.throws(() => verifySignature(body, {}, secret, { toleranceSeconds: NaN }), TypeError);
  // Valid edge values still work: 0 tolerance, and epoch 0 as a number.
  const exact = sign(body, 'dlv_8', now, secret);
  assert.equal(verifySignature(body, exact, secret, { now: now * 1000, toleranceSeconds: 0 }).timestamp, now);
  rejects(() => verifySignature(body, sign(body, 'dlv_8', now - 1, secret), secret, { now: now * 1000, toleranceSeconds: 0 }), 'timestamp_too_old');
  rejects(() => verifySignature(body, exact, secret, { now: 0 }), 'timestamp_too_new');
});
