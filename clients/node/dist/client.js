import { randomUUID } from 'node:crypto';
import { WebhookdError } from './errors.js';
/**
 * WebhookdClient calls webhookd's API: publishing events with retries
 * that never duplicate them, and managing webhooks. It needs Node 20's
 * global fetch and nothing else.
 */
export class WebhookdClient {
    #baseUrl;
    #authorization;
    #tenant;
    #fetch;
    #retries;
    #timeoutMs;
    #retryBaseMs;
    #retryMaxMs;
    #userAgent;
    constructor(options) {
        if (!options || typeof options.baseUrl !== 'string' || options.baseUrl === '') {
            throw new TypeError('WebhookdClient: baseUrl is required, e.g. http://localhost:3000');
        }
        let url;
        try {
            url = new URL(options.baseUrl);
        }
        catch {
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
    async publish(type, data, options = {}) {
        const idempotencyKey = options.idempotencyKey ?? randomUUID();
        const body = { event: type, data };
        const tenant = options.tenant ?? this.#tenant;
        if (tenant !== undefined)
            body.tenant = tenant;
        if (options.timestamp !== undefined)
            body.timestamp = timestampText(options.timestamp);
        const answer = await this.#request({
            method: 'POST',
            path: '/api/v1/events',
            body,
            headers: { 'Idempotency-Key': idempotencyKey },
            retry: 'always',
            signal: options.signal,
        });
        const out = answer.body;
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
    async publishBatch(events, options = {}) {
        if (!Array.isArray(events) || events.length === 0) {
            throw new TypeError('publishBatch: events must be a non-empty array');
        }
        const key = options.idempotencyKey ?? randomUUID();
        const keys = [];
        const items = events.map((e, i) => {
            const item = { event: e.event, data: e.data };
            const k = e.idempotencyKey ?? `${key}:${i}`;
            keys.push(k);
            item.idempotencyKey = k;
            if (e.timestamp !== undefined)
                item.timestamp = timestampText(e.timestamp);
            if (e.tenant !== undefined)
                item.tenant = e.tenant;
            return item;
        });
        const body = { events: items };
        const tenant = options.tenant ?? this.#tenant;
        if (tenant !== undefined)
            body.tenant = tenant;
        const answer = await this.#request({ method: 'POST', path: '/api/v1/events/batch', body, retry: 'always', signal: options.signal });
        const data = answer.body.data;
        return data.map((r, i) => ({ id: r.id, event: r.event, deliveries: r.deliveries, replayed: r.replayed, idempotencyKey: keys[i] }));
    }
    /** getEvent reads a published event back. */
    async getEvent(id, options = {}) {
        return (await this.#call('GET', `/api/v1/events/${encodeURIComponent(id)}`, undefined, 'always', options));
    }
    /** listWebhooks reads one page of the tenant's webhooks, newest first; secrets are masked. */
    async listWebhooks(options = {}) {
        const q = new URLSearchParams();
        if (options.limit !== undefined)
            q.set('limit', String(options.limit));
        if (options.cursor !== undefined)
            q.set('cursor', options.cursor);
        const query = q.size > 0 ? `?${q}` : '';
        return (await this.#call('GET', `/api/v1/webhooks${query}`, undefined, 'always', options));
    }
    /** allWebhooks iterates over every webhook of the tenant, page by page. */
    async *allWebhooks(options = {}) {
        let cursor;
        do {
            const page = await this.listWebhooks({ ...options, cursor });
            yield* page.data;
            cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
    }
    /** getWebhook reads one webhook, its secret in full. */
    async getWebhook(id, options = {}) {
        return (await this.#call('GET', webhookPath(id), undefined, 'always', options));
    }
    /**
     * createWebhook registers a webhook. It is retried only on answers that
     * say nothing was created (429, 503): a retry after a lost answer could
     * create it twice.
     */
    async createWebhook(webhook, options = {}) {
        return (await this.#call('POST', '/api/v1/webhooks', webhook, 'unprocessed', options));
    }
    /** updateWebhook changes the fields given (PATCH) and returns the webhook. */
    async updateWebhook(id, changes, options = {}) {
        return (await this.#call('PATCH', webhookPath(id), changes, 'always', options));
    }
    /**
     * deleteWebhook deletes a webhook and its pending deliveries. A 404 on a
     * retry counts as success: an earlier attempt whose answer was lost may
     * have deleted it. A 404 on the first attempt throws.
     */
    async deleteWebhook(id, options = {}) {
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
    async rotateSecret(id, options = {}) {
        const body = options.secret === undefined ? {} : { secret: options.secret };
        return (await this.#call('POST', `${webhookPath(id)}/rotate-secret`, body, 'unprocessed', options));
    }
    /** testWebhook sends one signed test delivery now and reports what the receiver answered. */
    async testWebhook(id, send = {}, options = {}) {
        return (await this.#call('POST', `${webhookPath(id)}/test`, send, 'unprocessed', options));
    }
    async #call(method, path, body, retry, options) {
        const tenant = options.tenant ?? this.#tenant;
        const answer = await this.#request({ method, path, body, retry, signal: options.signal, tenantHeader: tenant });
        return answer.body;
    }
    // request sends spec, retrying as its policy allows, and returns the
    // first 2xx answer or throws a WebhookdError.
    async #request(spec) {
        const headers = {
            Authorization: this.#authorization,
            Accept: 'application/json',
            'User-Agent': this.#userAgent,
            ...spec.headers,
        };
        let payload;
        if (spec.body !== undefined) {
            headers['Content-Type'] = 'application/json';
            payload = JSON.stringify(spec.body);
        }
        if (spec.tenantHeader !== undefined)
            headers['Webhookd-Tenant'] = spec.tenantHeader;
        const url = this.#baseUrl + spec.path;
        for (let attempt = 1;; attempt++) {
            spec.signal?.throwIfAborted();
            const retriesLeft = attempt <= this.#retries;
            let failure;
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
                    await res.body?.cancel().catch(() => { });
                    throw redirectError(res, url, attempt);
                }
                const answer = await readAnswer(res);
                if (res.ok)
                    return answer;
                if (spec.notFoundOnRetryIsSuccess && res.status === 404 && attempt > 1)
                    return answer;
                failure = answerError(answer, attempt);
                const retryable = res.status === 429 || res.status === 503 || (spec.retry === 'always' && res.status >= 500);
                if (!retryable || !retriesLeft)
                    throw failure;
                if (failure.retryAfterMs !== undefined) {
                    // The server said when to come back: wait that long, unless it
                    // is longer than this client is willing to wait.
                    if (failure.retryAfterMs > this.#retryMaxMs)
                        throw failure;
                    await sleep(failure.retryAfterMs, spec.signal);
                    continue;
                }
            }
            catch (err) {
                if (err instanceof WebhookdError)
                    throw err;
                if (spec.signal?.aborted)
                    throw spec.signal.reason;
                failure = networkError(err, attempt, this.#timeoutMs);
                if (spec.retry !== 'always' || !retriesLeft)
                    throw failure;
            }
            await sleep(this.#backoff(attempt), spec.signal);
        }
    }
    // attemptSignal ends one attempt at the timeout or when the caller
    // aborts, whichever comes first.
    #attemptSignal(caller) {
        const signals = [];
        if (this.#timeoutMs > 0)
            signals.push(AbortSignal.timeout(this.#timeoutMs));
        if (caller !== undefined)
            signals.push(caller);
        if (signals.length <= 1)
            return signals[0];
        return AbortSignal.any(signals);
    }
    // backoff is the wait before retry number attempt: exponential from
    // retryBaseMs, capped at retryMaxMs, with jitter so that many clients
    // failing together do not come back together.
    #backoff(attempt) {
        const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (attempt - 1));
        return ceiling / 2 + Math.random() * (ceiling / 2);
    }
}
/**
 * parseRetryAfter reads a Retry-After value, delay seconds or an HTTP
 * date, as milliseconds from now (never negative); undefined when it is
 * neither.
 */
export function parseRetryAfter(value, now = Date.now()) {
    if (value === null || value === undefined)
        return undefined;
    const v = value.trim();
    if (/^[0-9]+$/.test(v))
        return Number(v) * 1000;
    const at = Date.parse(v);
    if (Number.isNaN(at))
        return undefined;
    return Math.max(0, at - now);
}
async function readAnswer(res) {
    const text = await res.text();
    let body = null;
    if (text !== '') {
        try {
            body = JSON.parse(text);
        }
        catch {
            body = text;
        }
    }
    return { status: res.status, headers: res.headers, body };
}
function answerError(answer, attempts) {
    const b = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {});
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
function redirectError(res, url, attempts) {
    const location = res.headers.get('Location');
    const where = location ? ` to ${location}` : '';
    return new WebhookdError({
        status: res.status,
        code: 'redirect',
        message: `webhookd answered ${url} with a redirect (${res.status || 'opaque'})${where}, which the client does not follow: set baseUrl to webhookd's own address`,
        attempts,
    });
}
function networkError(err, attempts, timeoutMs) {
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
function sleep(ms, signal) {
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
function webhookPath(id) {
    if (typeof id !== 'string' || id === '')
        throw new TypeError('a webhook id is required');
    return `/api/v1/webhooks/${encodeURIComponent(id)}`;
}
function timestampText(t) {
    return t instanceof Date ? t.toISOString() : t;
}
function nonNegative(name, value, fallback) {
    if (value === undefined)
        return fallback;
    if (!Number.isFinite(value) || value < 0) {
        throw new TypeError(`WebhookdClient: ${name} must be a number of 0 or more, not ${value}`);
    }
    return value;
}
