#!/usr/bin/env node
// A multi-tenant CRM's backend publishing to webhookd for one of its
// customer accounts (a tenant) with a service key, in plain Node 18+
// (fetch; no npm packages). It makes sure the tenant exists, gives it a
// webhook when RECEIVER_URL is set, publishes one message.new, publishes a
// batch, and makes a portal session to show the tenant its webhooks.
//
// Make the service key once, on the machine that holds webhookd's database:
//
//   webhookd apikey create --service --name crm-backend
//
// then:
//
//   WEBHOOKD_URL=http://localhost:3000 WEBHOOKD_SERVICE_KEY='whk_...' \
//     TENANT=acme RECEIVER_URL=https://example.com/hooks node crm-publisher.js
//
// The service key acts for any tenant: keep it on the backend, never in a
// browser. Each step prints one line of JSON. Exit status 1 on any error.
'use strict';

// WebhookdError is an error answer: status, message and the fields named.
class WebhookdError extends Error {
  constructor(status, body) {
    super(`webhookd answered ${status}: ${body && body.message ? body.message : JSON.stringify(body)}`);
    this.status = status;
    this.details = (body && body.details) || [];
  }
}

// Webhookd is a small client for the routes a CRM's backend uses.
class Webhookd {
  constructor(baseURL, serviceKey) {
    if (!serviceKey) {
      throw new Error('WEBHOOKD_SERVICE_KEY is required (webhookd apikey create --service --name crm-backend)');
    }
    this.baseURL = baseURL.replace(/\/+$/, '');
    this.serviceKey = serviceKey;
  }

  // request sends one request and returns the answer's JSON (null for 204).
  // tenant, when given, goes in the Webhookd-Tenant header, as every route
  // but the events routes and the tenant routes needs with a service key.
  // A 503 (the database failed; nothing was changed) is retried after its
  // Retry-After, up to 3 times.
  async request(method, path, { body, tenant } = {}) {
    const headers = { Authorization: `Bearer ${this.serviceKey}` };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (tenant !== undefined) {
      headers['Webhookd-Tenant'] = tenant;
    }
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(this.baseURL + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30000),
      });
      const text = await res.text();
      const json = text === '' ? null : JSON.parse(text);
      if (res.status === 503 && attempt < 3) {
        const wait = Number(res.headers.get('Retry-After')) || 5;
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
        continue;
      }
      if (!res.ok) {
        throw new WebhookdError(res.status, json);
      }
      return { status: res.status, body: json };
    }
  }

  // putTenant creates the tenant or updates its name and metadata; call it
  // whenever one of the CRM's accounts is created or changes.
  async putTenant(id, { name, metadata } = {}) {
    const { status, body } = await this.request('PUT', `/api/v1/tenants/${encodeURIComponent(id)}`, { body: { name, metadata } });
    return { created: status === 201, tenant: body };
  }

  // webhooks lists the tenant's webhooks (the first page, up to 100).
  async webhooks(tenant) {
    const { body } = await this.request('GET', '/api/v1/webhooks?limit=100', { tenant });
    return body.data;
  }

  // createWebhook registers a webhook for the tenant.
  async createWebhook(tenant, webhook) {
    const { body } = await this.request('POST', '/api/v1/webhooks', { tenant, body: webhook });
    return body;
  }

  // publish publishes one event for the tenant, named in the body. The
  // idempotency key makes a retry safe: the same key within 24 hours
  // answers the first event again.
  async publish(tenant, event, data, idempotencyKey) {
    const { body } = await this.request('POST', '/api/v1/events', { body: { tenant, event, data, idempotencyKey } });
    return body;
  }

  // publishBatch publishes up to 1,000 events for the tenant in one
  // request: all of them, or, if any is wrong, none.
  async publishBatch(tenant, events) {
    const { body } = await this.request('POST', '/api/v1/events/batch', { body: { tenant, events } });
    return body.data;
  }

  // portalSession makes a console URL for the tenant alone, to open or
  // embed in the CRM; the token is in the URL's fragment.
  async portalSession(tenant, { expiresIn = 3600, readOnly = false } = {}) {
    const { body } = await this.request('POST', `/api/v1/tenants/${encodeURIComponent(tenant)}/portal-sessions`, { body: { expiresIn, readOnly } });
    return body;
  }
}

async function main() {
  const wd = new Webhookd(process.env.WEBHOOKD_URL || 'http://localhost:3000', process.env.WEBHOOKD_SERVICE_KEY);
  const tenant = process.env.TENANT || 'acme';
  const print = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

  // 1. The CRM's account, as a tenant.
  const { created, tenant: t } = await wd.putTenant(tenant, { name: 'Acme Ltd', metadata: { plan: 'pro' } });
  print('tenant', { id: t.id, created });

  // 2. A webhook for it, once (normally the tenant's people add their own
  // in the portal).
  const receiver = process.env.RECEIVER_URL;
  if (receiver) {
    let hook = (await wd.webhooks(tenant)).find((w) => w.url === receiver);
    if (!hook) {
      hook = await wd.createWebhook(tenant, { name: 'CRM messages', url: receiver, events: ['message.*'] });
    }
    print('webhook', { id: hook.id, tenant: hook.tenant });
  }

  // 3. A message arrived in one of the tenant's conversations.
  const messageId = process.env.MESSAGE_ID || `msg_${Date.now()}`;
  const one = await wd.publish(tenant, 'message.new', {
    messageId,
    conversationId: 'conv_456',
    contactId: 'contact_789',
    direction: 'inbound',
    type: 'text',
    content: 'Hello from the CRM',
  }, `${tenant}-${messageId}`);
  print('publish', { id: one.id, event: one.event, deliveries: one.deliveries });

  // 4. Several at once: the tenant is named once, at the top.
  const batch = await wd.publishBatch(tenant, [
    { event: 'message.new', data: { messageId: `${messageId}-2`, content: 'Second' }, idempotencyKey: `${tenant}-${messageId}-2` },
    { event: 'message.new', data: { messageId: `${messageId}-3`, content: 'Third' }, idempotencyKey: `${tenant}-${messageId}-3` },
  ]);
  print('batch', { ids: batch.map((r) => r.id), deliveries: batch.map((r) => r.deliveries) });

  // 5. The tenant's portal, to show in the CRM (an iframe needs
  // webhookd serve --portal-frame-ancestors with the CRM's origin).
  const session = await wd.portalSession(tenant, { expiresIn: 3600 });
  print('portal', { url: session.url, expiresAt: session.expiresAt, readOnly: session.readOnly });
}

main().catch((err) => {
  console.error(err.message);
  for (const d of err.details || []) {
    console.error(`  ${d.field}: ${d.message}`);
  }
  process.exit(1);
});
