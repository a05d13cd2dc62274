import { randomUUID } from 'node:crypto';
import { WebhookdError, type ErrorBody } from './errors.js';
import type { EventPattern, PublishableEventType } from './events.js';

/** Options of a WebhookdClient. */
export interface WebhookdClientOptions {
  /** Where webhookd serves its API, e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** An API key (`whk_…`): a tenant's key, or a service key with `tenant`. */
  apiKey?: string;
  /** An access token from `POST /api/v1/auth/login` (or a portal or trusted token) instead of a key. */
  token?: string;
  /**
   * The tenant every call acts for, for a service key: sent as `"tenant"`
   * in the events routes' bodies and as the `Webhookd-Tenant` header
   * elsewhere. A call's own `tenant` option replaces it.
   */
  tenant?: string;
  /** The fetch to use; defaults to Node's global fetch. */
  fetch?: typeof fetch;
  /** How many times a failed call is tried again (default 3; 0 never retries). */
  retries?: number;
  /** Each attempt's timeout in milliseconds (default 30000). */
  timeoutMs?: number;
  /** The first retry's backoff in milliseconds, doubling each time (default 500). */
  retryBaseMs?: number;
  /**
   * The longest wait before a retry, in milliseconds (default 30000): it
   * caps the backoff, and a `Retry-After` asking for longer is not waited
   * for (the call fails with that answer and its `retryAfterMs`).
   */
  retryMaxMs?: number;
  /** Sent as the User-Agent; defaults to `webhookd-node-client`. */
  userAgent?: string;
}

/** Options every call takes. */
export interface CallOptions {
  /** The tenant this call acts for, replacing the client's `tenant`. */
  tenant?: string;
  /** Cancels the call, including its retries and the waits between them. */
  signal?: AbortSignal;
}

/** Options of publish. */
export interface PublishOptions extends CallOptions {
  /**
   * The idempotency key: the same key within 24 hours answers the first
   * event again instead of publishing a second one. Give one derived from
   * your own record (`message-${id}`) to make your own retries safe too;
   * by default one random key is made per call, which makes the client's
   * retries safe.
   */
  idempotencyKey?: string;
  /** When the event happened (RFC 3339 or a Date); defaults to when webhookd accepts it. */
  timestamp?: string | Date;
}

/** An event accepted by publish. */
export interface PublishResult {
  /** The event's id. */
  id: string;
  /** Its type. */
  event: string;
  /** How many deliveries it made: one per matching active webhook. */
  deliveries: number;
  /** True when the idempotency key had been used: `id` is that earlier event and nothing new was sent. */
  replayed: boolean;
  /** The idempotency key the call used. */
  idempotencyKey: string;
}

/** One event of publishBatch. */
export interface BatchEvent<T = unknown> {
  event: PublishableEventType;
  data: T;
  /** This event's own idempotency key; by default `<the call's key>:<index>`. */
  idempotencyKey?: string;
  timestamp?: string | Date;
  /** A service key may name each event's tenant; the default is the batch's. */
  tenant?: string;
}

/** Options of publishBatch. */
export interface PublishBatchOptions extends CallOptions {
  /**
   * The batch's key, from which each event without its own gets
   * `<key>:<index>`; by default one random key per call.
   */
  idempotencyKey?: string;
}

/** One event's result in a batch, in the order sent. */
export interface BatchResult {
  id: string;
  event: string;
  deliveries: number;
  /** True when this event's idempotency key had been used: nothing new was sent for it. */
  replayed: boolean;
  /** The idempotency key this event was sent with. */
  idempotencyKey: string;
}

/** A webhook as the API shows it. */
export interface Webhook {
  id: string;
  tenant: string;
  name: string;
  url: string;
  events: string[];
  /** The signing secret; masked in lists, in full from get, create, update and rotateSecret. */
  secret: string;
  isActive: boolean;
  description: string;
  headers: Record<string, string>;
  rateLimit: number;
  timeoutSeconds: number;
  ordering: 'none' | 'fifo';
  orderingKey: string;
  filter: unknown;
  disabledReason: string | null;
  disabledAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The fields of a new webhook; name, url and events are required. */
export interface WebhookCreate {
  name: string;
  url: string;
  events: EventPattern[];
  /** Your own secret; by default webhookd makes a `whsec_` one. */
  secret?: string;
  description?: string;
  isActive?: boolean;
  headers?: Record<string, string>;
  rateLimit?: number;
  timeoutSeconds?: number;
  ordering?: 'none' | 'fifo';
  orderingKey?: string;
  filter?: unknown;
}

/** The fields update changes; those left out stay as they are. */
export type WebhookUpdate = Partial<WebhookCreate>;

/** A page of a list. */
export interface Page<T> {
  data: T[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/** Options of listWebhooks. */
export interface ListOptions extends CallOptions {
  /** Up to 100; webhookd's default is 50. */
  limit?: number;
  cursor?: string;
}

/** A webhook after rotateSecret. */
export interface RotatedWebhook extends Webhook {
  /** Until when deliveries also carry a signature made with the previous secret. */
  previousSecretExpiresAt: string | null;
}

/** What testWebhook sends; both have defaults on the server. */
export interface TestSend {
  eventType?: string;
  payload?: unknown;
}

/** The outcome of one test send. */
export interface TestResult {
  success: boolean;
  statusCode: number | null;
  responseTimeMs: number;
  responseBody: string | null;
  error: string | null;
  logId: string;
}

/** A stored event. */
export interface StoredEvent {
  id: string;
  tenant: string;
  event: string;
  timestamp: string;
  data: unknown;
  deliveries: number;
  idempotencyKey: string | null;
  createdAt: string;
}

// How a request may be retried. 'always': the request is idempotent (a
// read, a PUT, a DELETE, or a publish with its idempotency key), so every
// failure without a definite answer is retried: connection errors,
// timeouts, 429 and 5xx. 'unprocessed': the request would do something
// twice if it had been processed, so only answers that say it was not are
// retried: 429 (throttled before the handler) and 503 (webhookd's "the
// database failed, nothing was changed").
type RetryPolicy = 'always' | 'unprocessed';

interface RequestSpec {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  // tenantHeader is the Webhookd-Tenant header of the routes that take
  // the tenant there; the events routes take it in the body instead.
  tenantHeader?: string;
  retry: RetryPolicy;
  signal?: AbortSignal;
  // notFoundOnRetryIsSuccess makes a 404 on a retry a success: a DELETE
  // whose first answer was lost may have deleted what the retry then
  // does not find.
  notFoundOnRetryIsSuccess?: boolean;
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/**
 * WebhookdClient calls webhookd's API: publishing events with retries
 * that never duplicate them, and managing webhooks. It needs Node 20's
 * global fetch and nothing else.
 */
export class WebhookdClient {
  readonly #baseUrl: string;
  readonly #authorization: string;
  readonly #tenant: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #retries: number;
  readonly #timeoutMs: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #userAgent: string;

  constructor(options: WebhookdClientOptions) {
    if (!options || typeof options.baseUrl !== 'string' || options.baseUrl === '') {
      throw new TypeError('WebhookdClient: baseUrl is required, e.g. http://localhost:3000');
    }
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`WebhookdClient: baseUrl ${JSON.stringify(options.baseUrl)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`WebhookdClient: baseUrl must be http or https, not ${url.protocol}`);
    }
    const credential = options.apiKey ?? options.token;
    if (options.apiKey !== undefined && options.token !== undefined) {
      throw new TypeError('WebhookdClient: give apiKey or token, not both');
    }
    if (!credential) {
      throw new TypeError('WebhookdClient: apiKey or token is required (webhookd apikey create …)');
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new TypeError('WebhookdClient: no fetch: use Node 20 or later, or pass options.fetch');
    }
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#authorization = `Bearer ${credential}`;
    this.#tenant = options.tenant;
    this.#fetch = fetchImpl;
    this.#retries = nonNegative('retries', options.retries, 3);
    this.#timeoutMs = nonNegative('timeoutMs', options.timeoutMs, 30_000);
    this.#retryBaseMs = nonNegative('retryBaseMs', options.retryBaseMs, 500);
    this.#retryMaxMs = nonNegative('retryMaxMs', options.retryMaxMs, 30_000);
    this.#userAgent = options.userAgent ?? 'webhookd-node-client';
  }

  /**
   * publish publishes one event. One idempotency key is made per call (or
   * taken from options) and sent on every attempt, so a retry after a lost
   * answer returns the first event (`replayed: true`) instead of
   * publishing it twice.
   */
  async publish<T = unknown>(type: PublishableEventType, data: T, options: PublishOptions = {}): Promise<PublishResult> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const body: Record<string, unknown> = { event: type, data };
    const tenant = options.tenant ?? this.#tenant;
    if (tenant !== undefined) body.tenant = tenant;
    if (options.timestamp !== undefined) body.timestamp = timestampText(options.timestamp);
    const answer = await this.#request({
      method: 'POST',
      path: '/api/v1/events',
      body,
      headers: { 'Idempotency-Key': idempotencyKey },
      retry: 'always',
      signal: options.signal,
    });
    const out = answer.body as { id: string; event: string; deliveries: number };
    return {
      id: out.id,
      event: out.event,
      deliveries: out.deliveries,
      replayed: answer.headers.get('Idempotent-Replayed') === 'true',
      idempotencyKey,
    };
  }

  /**
   * publishBatch publishes up to 1,000 events in one request: all of them,
   * or, if any is wrong, none (a WebhookdError naming `events[i].field`).
   * Each event without its own idempotency key gets `<key>:<index>` from
   * one key made per call, so retries never duplicate any of them.
   */
  async publishBatch(events: readonly BatchEvent[], options: PublishBatchOptions = {}): Promise<BatchResult[]> {
    if (!Array.isArray(events) || events.length === 0) {
      throw new TypeError('publishBatch: events must be a non-empty array');
    }
    const key = options.idempotencyKey ?? randomUUID();
    const keys: string[] = [];
    const items = events.map((e, i) => {
      const item: Record<string, unknown> = { event: e.event, data: e.data };
      const k = e.idempotencyKey ?? `${key}:${i}`;
      keys.push(k);
      item.idempotencyKey = k;
      if (e.timestamp !== undefined) item.timestamp = timestampText(e.timestamp);
      if (e.tenant !== undefined) item.tenant = e.tenant;
      return item;
    });
    const body: Record<string, unknown> = { events: items };
    const tenant = options.tenant ?? this.#tenant;
    if (tenant !== undefined) body.tenant = tenant;
    const answer = await this.#request({ method: 'POST', path: '/api/v1/events/batch', body, retry: 'always', signal: options.signal });
    const data = (answer.body as { data: Omit<BatchResult, 'idempotencyKey'>[] }).data;
    return data.map((r, i) => ({ id: r.id, event: r.event, deliveries: r.deliveries, replayed: r.replayed, idempotencyKey: keys[i] }));
  }

  /** getEvent reads a published event back. */
  async getEvent(id: string, options: CallOptions = {}): Promise<StoredEvent> {
    return (await this.#call('GET', `/api/v1/events/${encodeURIComponent(id)}`, undefined, 'always', options)) as StoredEvent;
  }

  /** listWebhooks reads one page of the tenant's webhooks, newest first; secrets are masked. */
  async listWebhooks(options: ListOptions = {}): Promise<Page<Webhook>> {
    const q = new URLSearchParams();
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.cursor !== undefined) q.set('cursor', options.cursor);
    const query = q.size > 0 ? `?${q}` : '';
    return (await this.#call('GET', `/api/v1/webhooks${query}`, undefined, 'always', options)) as Page<Webhook>;
  }

  /** allWebhooks iterates over every webhook of the tenant, page by page. */
  async *allWebhooks(options: Omit<ListOptions, 'cursor'> = {}): AsyncGenerator<Webhook> {
    let cursor: string | undefined;
    do {
      const page = await this.listWebhooks({ ...options, cursor });
      yield* page.data;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** getWebhook reads one webhook, its secret in full. */
  async getWebhook(id: string, options: CallOptions = {}): Promise<Webhook> {
    return (await this.#call('GET', webhookPath(id), undefined, 'always', options)) as Webhook;
  }

  /**
   * createWebhook registers a webhook. It is retried only on answers that
   * say nothing was created (429, 503): a retry after a lost answer could
   * create it twice.
   */
  async createWebhook(webhook: WebhookCreate, options: CallOptions = {}): Promise<Webhook> {
    return (await this.#call('POST', '/api/v1/webhooks', webhook, 'unprocessed', options)) as Webhook;
  }

  /** updateWebhook changes the fields given (PATCH) and returns the webhook. */
  async updateWebhook(id: string, changes: WebhookUpdate, options: CallOptions = {}): Promise<Webhook> {
    return (await this.#call('PATCH', webhookPath(id), changes, 'always', options)) as Webhook;
  }

  /**
   * deleteWebhook deletes a webhook and its pending deliveries. A 404 on a
   * retry counts as success: an earlier attempt whose answer was lost may
   * have deleted it. A 404 on the first attempt throws.
   */
  async deleteWebhook(id: string, options: CallOptions = {}): Promise<void> {
    const tenant = options.tenant ?? this.#tenant;
    await this.#request({
      method: 'DELETE',
      path: webhookPath(id),
      retry: 'always',
      signal: options.signal,
      tenantHeader: tenant,
      notFoundOnRetryIsSuccess: true,
    });
  }

  /**
   * rotateSecret gives the webhook a new secret (yours, or one webhookd
   * makes). Until `previousSecretExpiresAt`, deliveries carry a
   * `webhook-signature` made with each, so receivers verifying that
   * header with the new and old secrets keep working; `X-Webhook-Signature`
   * carries the new secret's only.
   */
  async rotateSecret(id: string, options: CallOptions & { secret?: string } = {}): Promise<RotatedWebhook> {
    const body = options.secret === undefined ? {} : { secret: options.secret };
    return (await this.#call('POST', `${webhookPath(id)}/rotate-secret`, body, 'unprocessed', options)) as RotatedWebhook;
  }

  /** testWebhook sends one signed test delivery now and reports what the receiver answered. */
  async testWebhook(id: string, send: TestSend = {}, options: CallOptions = {}): Promise<TestResult> {
    return (await this.#call('POST', `${webhookPath(id)}/test`, send, 'unprocessed', options)) as TestResult;
  }

  async #call(method: string, path: string, body: unknown, retry: RetryPolicy, options: CallOptions): Promise<unknown> {
    const tenant = options.tenant ?? this.#tenant;
    const answer = await this.#request({ method, path, body, retry, signal: options.signal, tenantHeader: tenant });
    return answer.body;
  }

  // request sends spec, retrying as its policy allows, and returns the
  // first 2xx answer or throws a WebhookdError.
  async #request(spec: RequestSpec): Promise<Answer> {
    const headers: Record<string, string> = {
      Authorization: this.#authorization,
      Accept: 'application/json',
      'User-Agent': this.#userAgent,
      ...spec.headers,
    };
    let payload: string | undefined;
    if (spec.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(spec.body);
    }
    if (spec.tenantHeader !== undefined) headers['Webhookd-Tenant'] = spec.tenantHeader;
    const url = this.#baseUrl + spec.path;

    for (let attempt = 1; ; attempt++) {
      spec.signal?.throwIfAborted();
      const retriesLeft = attempt <= this.#retries;
      let failure: WebhookdError;
      try {
        // Redirects are never followed: one would send the body, the
        // credentials' target and the Idempotency-Key to another URL.
        const res = await this.#fetch(url, {
          method: spec.method,
          headers,
          body: payload,
          redirect: 'manual',
          signal: this.#attemptSignal(spec.signal),
        });
        if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
          await res.body?.cancel().catch(() => {});
          throw redirectError(res, url, attempt);
        }
        const answer = await readAnswer(res);
        if (res.ok) return answer;
        if (spec.notFoundOnRetryIsSuccess && res.status === 404 && attempt > 1) return answer;
        failure = answerError(answer, attempt);
        const retryable = res.status === 429 || res.status === 503 || (spec.retry === 'always' && res.status >= 500);
        if (!retryable || !retriesLeft) throw failure;
        if (failure.retryAfterMs !== undefined) {
          // The server said when to come back: wait that long, unless it
          // is longer than this client is willing to wait.
          if (failure.retryAfterMs > this.#retryMaxMs) throw failure;
          await sleep(failure.retryAfterMs, spec.signal);
          continue;
        }
      } catch (err) {
        if (err instanceof WebhookdError) throw err;
        if (spec.signal?.aborted) throw spec.signal.reason;
        failure = networkError(err, attempt, this.#timeoutMs);
        if (spec.retry !== 'always' || !retriesLeft) throw failure;
      }
      await sleep(this.#backoff(attempt), spec.signal);
    }
  }

  // attemptSignal ends one attempt at the timeout or when the caller
  // aborts, whichever comes first.
  #attemptSignal(caller: AbortSignal | undefined): AbortSignal | undefined {
    const signals: AbortSignal[] = [];
    if (this.#timeoutMs > 0) signals.push(AbortSignal.timeout(this.#timeoutMs));
    if (caller !== undefined) signals.push(caller);
    if (signals.length <= 1) return signals[0];
    return AbortSignal.any(signals);
  }

  // backoff is the wait before retry number attempt: exponential from
  // retryBaseMs, capped at retryMaxMs, with jitter so that many clients
  // failing together do not come back together.
  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/**
 * parseRetryAfter reads a Retry-After value, delay seconds or an HTTP
 * date, as milliseconds from now (never negative); undefined when it is
 * neither.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^[0-9]+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

async function readAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, headers: res.headers, body };
}

function answerError(answer: Answer, attempts: number): WebhookdError {
  const b = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as ErrorBody;
  const text = typeof answer.body === 'string' ? answer.body : undefined;
  return new WebhookdError({
    status: answer.status,
    code: b.error ?? `http_${answer.status}`,
    message: b.message ?? text ?? `webhookd answered ${answer.status}`,
    details: Array.isArray(b.details) ? b.details : [],
    retryAfterMs: parseRetryAfter(answer.headers.get('Retry-After')),
    attempts,
  });
}

function redirectError(res: Response, url: string, attempts: number): WebhookdError {
  const location = res.headers.get('Location');
  const where = location ? ` to ${location}` : '';
  return new WebhookdError({
    status: res.status,
    code: 'redirect',
    message: `webhookd answered ${url} with a redirect (${res.status || 'opaque'})${where}, which the client does not follow: set baseUrl to webhookd's own address`,
    attempts,
  });
}

function networkError(err: unknown, attempts: number, timeoutMs: number): WebhookdError {
  const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
  const detail = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
  return new WebhookdError({
    status: 0,
    code: timedOut ? 'timeout' : 'network_error',
    message: timedOut ? `webhookd did not answer within ${timeoutMs}ms` : `could not reach webhookd: ${detail}`,
    attempts,
    cause: err,
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function webhookPath(id: string): string {
  if (typeof id !== 'string' || id === '') throw new TypeError('a webhook id is required');
  return `/api/v1/webhooks/${encodeURIComponent(id)}`;
}

function timestampText(t: string | Date): string {
  return t instanceof Date ? t.toISOString() : t;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`WebhookdClient: ${name} must be a number of 0 or more, not ${value}`);
  }
  return value;
}
