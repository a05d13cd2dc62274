// Measures verifySignature on a 1 KB delivery: node bench/verify.mjs
// (a measurement to compare builds, not a test).
import { createHmac } from 'node:crypto';
import { verifySignature, signingKey } from '../dist/index.js';
const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
const body = Buffer.from(JSON.stringify({ event: 'message.new', timestamp: '2024-01-01T12:00:00.000Z', data: { content: 'x'.repeat(900) } }));
const ts = Math.floor(Date.now() / 1000);
const h = { 'webhook-id': 'dlv_1', 'webhook-timestamp': String(ts), 'webhook-signature': 'v1,' + createHmac('sha256', signingKey(secret)).update(`dlv_1.${ts}.`).update(body).digest('base64') };
const n = 100000;
for (let i = 0; i < 5000; i++) verifySignature(body, h, secret);
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) verifySignature(body, h, secret);
const ns = Number(process.hrtime.bigint() - t0);
console.log(`verifySignature, ${body.length}-byte body, one secret: ${(ns / n / 1000).toFixed(2)} µs/op over ${n} ops`);
