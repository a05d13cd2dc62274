/**
 * Request headers as a receiver has them: a fetch `Headers` (or anything
 * with `get`), or a plain object such as Node's `req.headers`, with names
 * in any case and values that may be arrays.
 */
export type HeadersLike = {
    get(name: string): string | null;
} | Record<string, string | readonly string[] | undefined>;
/** Options of verifySignature. */
export interface VerifyOptions {
    /**
     * How far `webhook-timestamp` may be from now, either way, in seconds.
     * Defaults to 300 (5 minutes), as webhookd's documentation advises.
     * Must be a finite number of 0 or more (a TypeError otherwise).
     */
    toleranceSeconds?: number;
    /**
     * The current time, as a Date or epoch milliseconds; defaults to
     * Date.now(). Tests set it. Must be a valid Date or a finite number (a
     * TypeError otherwise).
     */
    now?: Date | number;
    /**
     * Accept a delivery that carries only `X-Webhook-Signature` (no
     * `webhook-signature`). Off by default: that header signs the body
     * alone, not the delivery's id or time, so a captured delivery
     * stripped of its Standard Webhooks headers could be replayed forever.
     * When a delivery is accepted this way, `id` and `timestamp` are
     * undefined: its `webhook-id` and `webhook-timestamp`, if any, are
     * unsigned and could be anyone's.
     */
    allowLegacySignature?: boolean;
}
/** Which of webhookd's two signatures verified a delivery. */
export type SignatureScheme = 'standard-webhooks' | 'x-webhook-signature';
/** A delivery verifySignature accepted. */
export interface VerifiedDelivery {
    /**
     * `webhook-id` (= `X-Webhook-Id`): the delivery's id, the same on every
     * retry; de-duplicate by it. Undefined for the `x-webhook-signature`
     * scheme, which does not sign it.
     */
    id: string | undefined;
    /**
     * `webhook-timestamp`, Unix seconds of this attempt. Undefined for the
     * `x-webhook-signature` scheme, which does not sign it.
     */
    timestamp: number | undefined;
    /** The scheme that verified it. */
    scheme: SignatureScheme;
}
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
export declare function verifySignature(rawBody: string | Uint8Array | ArrayBuffer, headers: HeadersLike, secret: string | readonly string[], options?: VerifyOptions): VerifiedDelivery;
/**
 * signingKey is a secret's Standard Webhooks key: the base64 decoding of
 * what follows `whsec_` when that is valid base64 (padded, as webhookd
 * checks it), otherwise the secret string's own bytes, as
 * delivery.StandardKey does.
 */
export declare function signingKey(secret: string): Buffer;
