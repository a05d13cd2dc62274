/**
 * WebhookdError is a request webhookd refused, or one that never got an
 * answer. For an answer, `status` is its HTTP status and `code`, `message`
 * and `details` come from the error body; `field` is the first field named.
 * For no answer (connection refused or reset, timeout), `status` is 0,
 * `code` is `network_error` or `timeout`, and `cause` is the underlying
 * error. A redirect (3xx), which the client never follows, has `code`
 * `redirect` and its 3xx `status`.
 */
export class WebhookdError extends Error {
    /** The HTTP status, or 0 when no answer came. */
    status;
    /** The body's `error` (the status text, e.g. `Bad Request`), or `network_error` / `timeout` / `redirect`. */
    code;
    /** The first field the API named as wrong, if any. */
    field;
    /** Every field the API named as wrong. */
    details;
    /** For a 429 or 503: how long the server asked to wait, in milliseconds. */
    retryAfterMs;
    /** How many attempts were made before giving up. */
    attempts;
    constructor(init) {
        super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
        this.name = 'WebhookdError';
        this.status = init.status;
        this.code = init.code;
        this.details = init.details ?? [];
        this.field = this.details[0]?.field;
        this.retryAfterMs = init.retryAfterMs;
        this.attempts = init.attempts ?? 1;
    }
}
/**
 * WebhookVerificationError is a delivery verifySignature refused: answer
 * it with 401 and do not act on it. `reason` says why, for your logs.
 */
export class WebhookVerificationError extends Error {
    /** Why the delivery was refused. */
    reason;
    constructor(reason, message) {
        super(message);
        this.name = 'WebhookVerificationError';
        this.reason = reason;
    }
}
