#!/usr/bin/env node
// A CRM's backend publishing to webhookd with webhookd's Node client,
// @webhookd/client: it gives the tenant a webhook when RECEIVER_URL is
// set, publishes one message.new and a batch, and reads the event back.
// Every call retries connection errors, 429 and 5xx; the idempotency keys
// (derived from the CRM's own ids here) make a second run, or a retry after
// a lost answer, return the first events instead of publishing them again.
//
//   npm install /path/to/webhookd/clients/node
//   WEBHOOKD_URL=http://localhost:3000 WEBHOOKD_API_KEY='whk_...' \
//     RECEIVER_URL=https://example.com/hooks node client-publisher.mjs
//
// WEBHOOKD_API_KEY is a tenant's key (webhookd apikey create --email you@example.com
// --name crm); with a service key (--service), set TENANT to the tenant
// to act for. Each step prints one line of JSON. Exit status 1 on any error.
import { WebhookdClient, WebhookdError } from '@webhookd/client';

const webhookd = new WebhookdClient({
  baseUrl: process.env.WEBHOOKD_URL || 'http://localhost:3000',
  apiKey: process.env.WEBHOOKD_API_KEY,
  tenant: process.env.TENANT || undefined,
});
const print = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

async function main() {
  // 1. A webhook to the receiver, once.
  const receiver = process.env.RECEIVER_URL;
  if (receiver) {
    let hook;
    for await (const w of webhookd.allWebhooks()) {
      if (w.url === receiver) hook = w;
    }
    hook ??= await webhookd.createWebhook({ name: 'CRM messages', url: receiver, events: ['message.*'] });
    print('webhook', { id: hook.id });
  }

  // 2. A message arrived in a conversation. The key is the CRM's own id:
  // publishing it again within 24 hours answers this event again.
  const messageId = process.env.MESSAGE_ID || `msg_${Date.now()}`;
  const one = await webhookd.publish('message.new', {
    messageId,
    conversationId: 'conv_456',
    contactId: 'contact_789',
    direction: 'inbound',
    type: 'text',
    content: 'Hello from the CRM',
  }, { idempotencyKey: `message-${messageId}` });
  print('publish', { id: one.id, deliveries: one.deliveries, replayed: one.replayed });

  // 3. Several at once, in one request: all of them or none.
  const batch = await webhookd.publishBatch([
    { event: 'message.new', data: { messageId: `${messageId}-2`, content: 'Second' } },
    { event: 'message.new', data: { messageId: `${messageId}-3`, content: 'Third' } },
  ], { idempotencyKey: `batch-${messageId}` });
  print('batch', { ids: batch.map((r) => r.id), replayed: batch.map((r) => r.replayed) });

  // 4. The event as webhookd stored it.
  const stored = await webhookd.getEvent(one.id);
  print('event', { id: stored.id, event: stored.event, idempotencyKey: stored.idempotencyKey });
}

main().catch((err) => {
  if (!(err instanceof WebhookdError)) throw err;
  // status 0: no answer (err.code is network_error or timeout).
  console.error(`webhookd: ${err.status || err.code}: ${err.message}`);
  for (const d of err.details) {
    console.error(`  ${d.field}: ${d.message}`);
  }
  process.exit(1);
});
