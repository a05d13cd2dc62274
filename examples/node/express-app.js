// The Node.js receiver as an Express app (npm install express). The
// verification is receiver.js's verifyWebhook, unchanged; only the
// framework differs.
//
//   WEBHOOK_SECRET='whsec_...' PORT=8000 node express-app.js
'use strict';

const express = require('express');
const { verifyWebhook } = require('./receiver.js');

const secret = process.env.WEBHOOK_SECRET;
const seen = new Set(); // handled webhook-ids: use your database in production
const app = express();

// express.raw keeps the body as the Buffer received: the bytes that were
// signed. Register this route before any app.use(express.json()).
app.post('/webhook', express.raw({ type: 'application/json' }), (req, res) => {
  if (!Buffer.isBuffer(req.body)) {
    return res.status(400).send('Expected a JSON body');
  }
  const problem = verifyWebhook(req.body, req.headers, secret);
  if (problem) {
    console.log(`rejected: ${problem}`);
    return res.status(401).send('Invalid signature');
  }
  const id = req.headers['webhook-id'];
  if (seen.has(id)) {
    return res.status(200).send('OK (duplicate)');
  }
  const event = JSON.parse(req.body.toString('utf8'));
  // ... handle event.event and event.data here.
  seen.add(id);
  console.log(`verified ${id} ${event.event}`);
  res.status(200).send('OK');
});

const server = app.listen(Number(process.env.PORT || 8000), () => {
  console.log(`listening on :${server.address().port}`);
});
