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
/**
 * WebhookdClient calls webhookd's API: publishing events with retries
 * that never duplicate them, and managing webhooks. It needs Node 20's
 * global fetch and nothing else.
 */
export declare class WebhookdClient {
    #private;
    constructor(options: WebhookdClientOptions);
    /**
     * publish publishes one event. One idempotency key is made per call (or
     * taken from options) and sent on every attempt, so a retry after a lost
     * answer returns the first event (`replayed: true`) instead of
     * publishing it twice.
     */
    publish<T = unknown>(type: PublishableEventType, data: T, options?: PublishOptions): Promise<PublishResult>;
    /**
     * publishBatch publishes up to 1,000 events in one request: all of them,
     * or, if any is wrong, none (a WebhookdError naming `events[i].field`).
     * Each event without its own idempotency key gets `<key>:<index>` from
     * one key made per call, so retries never duplicate any of them.
     */
    publishBatch(events: readonly BatchEvent[], options?: PublishBatchOptions): Promise<BatchResult[]>;
    /** getEvent reads a published event back. */
    getEvent(id: string, options?: CallOptions): Promise<StoredEvent>;
    /** listWebhooks reads one page of the tenant's webhooks, newest first; secrets are masked. */
    listWebhooks(options?: ListOptions): Promise<Page<Webhook>>;
    /** allWebhooks iterates over every webhook of the tenant, page by page. */
    allWebhooks(options?: Omit<ListOptions, 'cursor'>): AsyncGenerator<Webhook>;
    /** getWebhook reads one webhook, its secret in full. */
    getWebhook(id: string, options?: CallOptions): Promise<Webhook>;
    /**
     * createWebhook registers a webhook. It is retried only on answers that
     * say nothing was created (429, 503): a retry after a lost answer could
     * create it twice.
     */
    createWebhook(webhook: WebhookCreate, options?: CallOptions): Promise<Webhook>;
    /** updateWebhook changes the fields given (PATCH) and returns the webhook. */
    updateWebhook(id: string, changes: WebhookUpdate, options?: CallOptions): Promise<Webhook>;
    /**
     * deleteWebhook deletes a webhook and its pending deliveries. A 404 on a
     * retry counts as success: an earlier attempt whose answer was lost may
     * have deleted it. A 404 on the first attempt throws.
     */
    deleteWebhook(id: string, options?: CallOptions): Promise<void>;
    /**
     * rotateSecret gives the webhook a new secret (yours, or one webhookd
     * makes). Until `previousSecretExpiresAt`, deliveries carry a
     * `webhook-signature` made with each, so receivers verifying that
     * header with the new and old secrets keep working; `X-Webhook-Signature`
     * carries the new secret's only.
     */
    rotateSecret(id: string, options?: CallOptions & {
        secret?: string;
    }): Promise<RotatedWebhook>;
    /** testWebhook sends one signed test delivery now and reports what the receiver answered. */
    testWebhook(id: string, send?: TestSend, options?: CallOptions): Promise<TestResult>;
}
/**
 * parseRetryAfter reads a Retry-After value, delay seconds or an HTTP
 * date, as milliseconds from now (never negative); undefined when it is
 * neither.
 */
export declare function parseRetryAfter(value: string | null | undefined, now?: number): number | undefined;
