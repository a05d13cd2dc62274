/** One field the API named as wrong, and why. */
export interface FieldError {
  field: string;
  message: string;
}

/** The API's error body: `{statusCode, error, message, details}`. */
export interface ErrorBody {
  statusCode?: number;
  error?: string;
  message?: string;
  details?: FieldError[];
}

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
  readonly status: number;
  /** The body's `error` (the status text, e.g. `Bad Request`), or `network_error` / `timeout` / `redirect`. */
  readonly code: string;
  /** The first field the API named as wrong, if any. */
  readonly field: string | undefined;
  /** Every field the API named as wrong. */
  readonly details: FieldError[];
  /** For a 429 or 503: how long the server asked to wait, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** How many attempts were made before giving up. */
  readonly attempts: number;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: FieldError[];
    retryAfterMs?: number;
    attempts?: number;
    cause?: unknown;
  }) {
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

/** Why verifySignature refused a delivery. */
export type VerificationFailure =
  | 'no_secret'
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature';

/**
 * WebhookVerificationError is a delivery verifySignature refused: answer
 * it with 401 and do not act on it. `reason` says why, for your logs.
 */
export class WebhookVerificationError extends Error {
  /** Why the delivery was refused. */
  readonly reason: VerificationFailure;

  constructor(reason: VerificationFailure, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}
