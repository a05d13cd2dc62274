#!/usr/bin/env node
// A webhookd receiver in Node.js with no npm packages: node:http and
// node:crypto only. It verifies both signatures webhookd sends over the raw
// body bytes, refuses timestamps more than 5 minutes away, and handles each
// webhook-id once.
//
//   WEBHOOK_SECRET='whsec_...' PORT=8000 node receiver.js
//
// While you rotate the webhook's secret, give both, new first:
// WEBHOOK_SECRET='whsec_new... whsec_old...'.
//
// Answers: 2xx when the delivery is genuine (also for a duplicate, so
// webhookd stops retrying it), 401 when it is not.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

const TOLERANCE_SECONDS = 5 * 60;

// signingKey is the Standard Webhooks key: the base64-decoded part after
// "whsec_", or the secret's own bytes for any other secret.
function signingKey(secret) {
  if (secret.startsWith('whsec_')) {
    return Buffer.from(secret.slice('whsec_'.length), 'base64');
  }
  return Buffer.from(secret, 'utf8');
}

// same compares two strings in constant time.
function same(a, b) {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// verifyWebhook checks a delivery. rawBody is a Buffer holding the body
// exactly as received (never JSON.stringify of a parsed body), headers has
// lower-case names as Node gives them. secret is the webhook's secret, or
// while you rotate it the new and the old one separated by a space (secrets
// never contain spaces): the delivery is genuine if one of them verifies.
// It returns null when the delivery is genuine, or the reason it is not.
function verifyWebhook(rawBody, headers, secret, nowSeconds = Math.floor(Date.now() / 1000)) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  const seedSignature = headers['x-webhook-signature'];
  if (!id || !timestamp || !signatures || !seedSignature) {
    return 'missing webhook-id, webhook-timestamp, webhook-signature or x-webhook-signature';
  }
  if (!/^[0-9]+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) {
    return 'webhook-timestamp is more than 5 minutes away';
  }
  let problem = 'no secret to verify with';
  for (const s of secret.split(' ').filter((x) => x !== '')) {
    problem = checkSignatures(rawBody, id, timestamp, signatures, seedSignature, s);
    if (problem === null) {
      return null;
    }
  }
  return problem;
}

// checkSignatures checks both signatures with one secret and returns null,
// or the one that does not match.
function checkSignatures(rawBody, id, timestamp, signatures, seedSignature, secret) {
  // The seed's scheme: "sha256=" + hex HMAC-SHA256 of the raw body, keyed
  // with the secret string.
  const seedExpected = 'sha256=' + crypto.createHmac('sha256', secret).update(rawBody).digest('hex');
  if (!same(seedSignature, seedExpected)) {
    return 'x-webhook-signature does not match';
  }

  // Standard Webhooks: "v1," + base64 HMAC-SHA256 of "id.timestamp.body".
  // The header may list several space-separated signatures (two while the
  // webhook's secret is being rotated); one must match.
  const expected = 'v1,' + crypto.createHmac('sha256', signingKey(secret))
    .update(`${id}.${timestamp}.`)
    .update(rawBody)
    .digest('base64');
  if (!signatures.split(' ').some((s) => same(s, expected))) {
    return 'webhook-signature does not match';
  }
  return null;
}

// seen remembers handled webhook-ids. Keep them in your database in
// production (a unique key on the id), so duplicates are caught across
// restarts and across instances.
const seen = new Set();

function main() {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error('set WEBHOOK_SECRET to the webhook\'s secret');
    process.exit(2);
  }
  const counts = { verified: 0, rejected: 0, duplicates: 0 };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const problem = req.method === 'POST' ? verifyWebhook(rawBody, req.headers, secret) : 'not a POST';
      if (problem) {
        counts.rejected++;
        console.log(`rejected: ${problem}`);
        res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Invalid signature\n');
        return;
      }
      const id = req.headers['webhook-id'];
      if (seen.has(id)) {
        counts.duplicates++;
        console.log(`duplicate ${id}: already handled`);
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK (duplicate)\n');
        return;
      }
      // Parse only after verifying, from the same bytes.
      const event = JSON.parse(rawBody.toString('utf8'));
      // ... handle event.event and event.data here; answer quickly (within
      // webhookd's delivery timeout) and do slow work after answering.
      seen.add(id);
      counts.verified++;
      console.log(`verified ${id} ${event.event}`);
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
}

module.exports = { verifyWebhook };

if (require.main === module) {
  main();
}
