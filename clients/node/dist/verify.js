import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.js';
const DEFAULT_TOLERANCE_SECONDS = 300;
/**
 * verifySignature checks that a delivery came from webhookd with one of
 * the webhook's secrets, and returns its id and timestamp; it throws a
 * WebhookVerificationError otherwise (answer 401).
 *
 * rawBody must be the body's bytes exactly as received (a Buffer from
 * `express.raw()`, or the collected chunks), never `JSON.stringify` of a
 * parsed body. A string is taken as its UTF-8 bytes.
 *
 * secret is the webhook's secret, or, while you rotate it, several: the
 * delivery is genuine if any verifies it.
 *
 * webhookd signs every delivery twice. The Standard Webhooks scheme
 * decides: `webhook-id`, `webhook-timestamp` and `webhook-signature` must
 * all be there (webhookd always sends them), the timestamp within
 * `toleranceSeconds` of now, and one `v1,` entry must equal the base64
 * HMAC-SHA256 of `id.timestamp.body` keyed with the secret's signing key
 * (the base64 decoding of what follows `whsec_`, or the secret's bytes).
 *
 * Only with `allowLegacySignature: true`, and only when `webhook-signature`
 * is missing, is `X-Webhook-Signature` (`sha256=` and the hex HMAC-SHA256
 * of the body, keyed with the secret string's bytes) checked instead; that
 * header signs no id and no timestamp, so it cannot stop a replay, and it
 * carries only the current secret's signature. A delivery accepted so
 * comes back with `id` and `timestamp` undefined.
 *
 * Invalid options (a `toleranceSeconds` that is negative or not finite, a
 * `now` that is an invalid Date or not finite) throw a TypeError.
 */
export function verifySignature(rawBody, headers, secret, options = {}) {
    const secrets = (typeof secret === 'string' ? [secret] : [...secret]).filter((s) => typeof s === 'string' && s !== '');
    if (secrets.length === 0) {
        throw new WebhookVerificationError('no_secret', 'no secret to verify with: pass the webhook\'s secret');
    }
    const { toleranceSeconds, nowMs } = checkOptions(options);
    const body = toBytes(rawBody);
    const header = headerReader(headers);
    const id = header('webhook-id');
    const timestampText = header('webhook-timestamp');
    const standard = header('webhook-signature');
    const legacy = header('x-webhook-signature');
    if (standard !== undefined) {
        if (id === undefined || timestampText === undefined) {
            throw new WebhookVerificationError('missing_headers', 'webhook-signature came without webhook-id and webhook-timestamp');
        }
        const timestamp = checkTimestamp(timestampText, toleranceSeconds, nowMs);
        // Entries are space-separated; a header sent twice arrives joined
        // with ", ", so a trailing comma is dropped too.
        const given = standard
            .split(/\s+/)
            .map((s) => s.replace(/,$/, ''))
            .filter((s) => s.startsWith('v1,'))
            .map((s) => s.slice(3));
        for (const s of secrets) {
            const expected = createHmac('sha256', signingKey(s))
                .update(`${id}.${timestampText}.`)
                .update(body)
                .digest('base64');
            if (given.some((g) => same(g, expected))) {
                return { id, timestamp, scheme: 'standard-webhooks' };
            }
        }
        throw new WebhookVerificationError('no_matching_signature', 'webhook-signature does not match the body with any of the secrets');
    }
    if (options.allowLegacySignature !== true) {
        throw new WebhookVerificationError('missing_headers', legacy === undefined
            ? 'webhook-signature was not sent (webhookd sends webhook-id, webhook-timestamp and webhook-signature)'
            : 'webhook-signature was not sent; X-Webhook-Signature alone signs no id or timestamp and is refused unless allowLegacySignature is set');
    }
    if (legacy !== undefined) {
        for (const s of secrets) {
            const expected = 'sha256=' + createHmac('sha256', Buffer.from(s, 'utf8')).update(body).digest('hex');
            if (same(legacy, expected)) {
                // The body alone is signed: webhook-id and webhook-timestamp, if
                // sent, could be anyone's, so neither is returned.
                return { id: undefined, timestamp: undefined, scheme: 'x-webhook-signature' };
            }
        }
        throw new WebhookVerificationError('no_matching_signature', 'X-Webhook-Signature does not match the body with any of the secrets');
    }
    throw new WebhookVerificationError('missing_headers', 'neither webhook-signature nor X-Webhook-Signature was sent');
}
/**
 * signingKey is a secret's Standard Webhooks key: the base64 decoding of
 * what follows `whsec_` when that is valid base64 (padded, as webhookd
 * checks it), otherwise the secret string's own bytes, as
 * delivery.StandardKey does.
 */
export function signingKey(secret) {
    if (secret.startsWith('whsec_')) {
        const rest = secret.slice('whsec_'.length);
        // Buffer.from(…, 'base64') never fails; webhookd's decoder does, and
        // then uses the raw secret, so only strict base64 is decoded here.
        if (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(rest)) {
            return Buffer.from(rest, 'base64');
        }
    }
    return Buffer.from(secret, 'utf8');
}
// checkOptions validates the tolerance and the clock: a NaN, an Infinity
// or a negative tolerance, or an invalid Date, would make every
// comparison false and so silently accept any timestamp.
function checkOptions(options) {
    if (options === null || typeof options !== 'object') {
        throw new TypeError('verifySignature: options must be an object');
    }
    const tolerance = options.toleranceSeconds === undefined ? DEFAULT_TOLERANCE_SECONDS : options.toleranceSeconds;
    if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
        throw new TypeError(`verifySignature: toleranceSeconds must be a finite number of 0 or more, not ${String(tolerance)}`);
    }
    let nowMs;
    if (options.now === undefined) {
        nowMs = Date.now();
    }
    else if (options.now instanceof Date || typeof options.now === 'number') {
        nowMs = Number(options.now);
    }
    else {
        throw new TypeError('verifySignature: now must be a Date or epoch milliseconds');
    }
    if (!Number.isFinite(nowMs)) {
        throw new TypeError(`verifySignature: now must be a valid Date or a finite number of epoch milliseconds, not ${String(options.now)}`);
    }
    return { toleranceSeconds: tolerance, nowMs };
}
function checkTimestamp(text, tolerance, nowMs) {
    if (!/^[0-9]{1,15}$/.test(text)) {
        throw new WebhookVerificationError('invalid_timestamp', `webhook-timestamp ${JSON.stringify(text)} is not Unix seconds`);
    }
    const ts = Number(text);
    const now = Math.floor(nowMs / 1000);
    if (now - ts > tolerance) {
        throw new WebhookVerificationError('timestamp_too_old', `webhook-timestamp is ${now - ts}s old, more than the ${tolerance}s allowed`);
    }
    if (ts - now > tolerance) {
        throw new WebhookVerificationError('timestamp_too_new', `webhook-timestamp is ${ts - now}s ahead, more than the ${tolerance}s allowed`);
    }
    return ts;
}
function toBytes(body) {
    if (typeof body === 'string') {
        return Buffer.from(body, 'utf8');
    }
    if (body instanceof ArrayBuffer) {
        return Buffer.from(body);
    }
    if (body instanceof Uint8Array) {
        return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    }
    throw new TypeError('verifySignature: rawBody must be the raw body as a Buffer, Uint8Array, ArrayBuffer or string, not a parsed object');
}
// headerReader reads a header by its lower-case name from either form;
// several values of one header (an array) are joined as HTTP joins them.
function headerReader(headers) {
    if (typeof headers.get === 'function') {
        const h = headers;
        return (name) => h.get(name) ?? undefined;
    }
    const lower = new Map();
    for (const [k, v] of Object.entries(headers)) {
        if (v === undefined)
            continue;
        const value = typeof v === 'string' ? v : v.join(', ');
        const key = k.toLowerCase();
        const prev = lower.get(key);
        lower.set(key, prev === undefined ? value : `${prev}, ${value}`);
    }
    return (name) => lower.get(name);
}
// same compares two strings in constant time for equal lengths; the
// length of a signature is public.
function same(a, b) {
    const x = Buffer.from(a, 'utf8');
    const y = Buffer.from(b, 'utf8');
    return x.length === y.length && timingSafeEqual(x, y);
}
