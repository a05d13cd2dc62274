#!/usr/bin/env node
// A webhookd receiver in Node.js with webhookd's own client package,
// @webhookd/client, whose verifySignature does every check: the raw body's
// signature, the timestamp within 5 minutes, several secrets during a
// rotation, constant-time comparison. It handles each webhook-id once.
//
//   npm install /path/to/webhookd/clients/node
//   WEBHOOK_SECRET='whsec_...' PORT=8000 node client-receiver.mjs
//
// While you rotate the webhook's secret, give both, new first:
// WEBHOOK_SECRET='whsec_new... whsec_old...'.
//
// Answers: 2xx when the delivery is genuine (also for a duplicate, so
// webhookd stops retrying it), 401 when it is not.
import http from 'node:http';
import { verifySignature, WebhookVerificationError } from '@webhookd/client';

// seen remembers handled webhook-ids. Keep them in your database in
// production (a unique key on the id), so duplicates are caught across
// restarts and across instances.
const seen = new Set();

const secrets = (process.env.WEBHOOK_SECRET || '').split(' ').filter((s) => s !== '');
if (secrets.length === 0) {
  console.error('set WEBHOOK_SECRET to the webhook\'s secret');
  process.exit(2);
}
const counts = { verified: 0, rejected: 0, duplicates: 0 };

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    // The raw bytes, exactly as received: they are what was signed.
    const rawBody = Buffer.concat(chunks);
    let delivery;
    try {
      if (req.method !== 'POST') {
        throw new Error('not a POST');
      }
      delivery = verifySignature(rawBody, req.headers, secrets);
    } catch (err) {
      counts.rejected++;
      console.log(`rejected: ${err instanceof WebhookVerificationError ? err.reason : err.message}`);
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Invalid signature\n');
      return;
    }
    if (seen.has(delivery.id)) {
      counts.duplicates++;
      console.log(`duplicate ${delivery.id}: already handled`);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK (duplicate)\n');
      return;
    }
    // Parse only after verifying, from the same bytes.
    const event = JSON.parse(rawBody.toString('utf8'));
    // ... handle event.event and event.data here; answer quickly (within
    // webhookd's delivery timeout) and do slow work after answering.
    seen.add(delivery.id);
    counts.verified++;
    console.log(`verified ${delivery.id} ${event.event}`);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK\n');
  });
});

// On SIGTERM or SIGINT print a summary. With EXPECT_REJECTED set (as the
// repository's tests do), exit 0 only if something verified and exactly
// that many requests were rejected: a real delivery rejected fails it.
const stop = () => {
  let code = 0;
  if (process.env.EXPECT_REJECTED !== undefined) {
    const ok = counts.verified > 0 && counts.rejected === Number(process.env.EXPECT_REJECTED);
    code = ok ? 0 : 1;
  }
  const line = `summary verified=${counts.verified} rejected=${counts.rejected} duplicates=${counts.duplicates}\n`;
  process.stdout.write(line, () => process.exit(code));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(Number(process.env.PORT || 8000), () => {
  console.log(`listening on :${server.address().port}`);
});
