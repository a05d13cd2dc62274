// verify-webhook.js is a webhook receiver that checks every delivery with
// the seed's own verifyWebhook snippet, copied unchanged, the way an Express
// app with express.json() would run it. It prints one JSON line per event:
// first {"port":N} once it listens, then one report per delivery. It exits
// when its standard input closes, so it never outlives the test that runs it.
//
// Usage: node verify-webhook.js <secret>
'use strict';

const http = require('http');
const crypto = require('crypto');

// The seed's snippet, verbatim.
function verifyWebhook(req, secret) {
  const signature = req.headers['x-webhook-signature'];
  const payload = JSON.stringify(req.body);
  
  const expectedSignature = 'sha256=' + 
    crypto.createHmac('sha256', secret)
      .update(payload)
      .digest('hex');
  
  return signature === expectedSignature;
}

const secret = process.argv[2];
if (!secret) {
  process.stderr.write('usage: node verify-webhook.js <secret>\n');
  process.exit(2);
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    // What express.json() does before the handler runs.
    try {
      req.body = JSON.parse(raw);
    } catch (e) {
      report({ id: req.headers['x-webhook-id'], verified: false, error: 'invalid JSON: ' + e.message });
      res.statusCode = 400;
      res.end('Invalid JSON');
      return;
    }
    const verified = verifyWebhook(req, secret);
    report({ id: req.headers['x-webhook-id'], event: req.body.event, verified: verified });
    if (!verified) {
      res.statusCode = 401;
      res.end('Invalid signature');
      return;
    }
    res.statusCode = 200;
    res.end('OK');
  });
});

server.listen(0, '127.0.0.1', () => report({ port: server.address().port }));

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
