#!/usr/bin/env python3
"""A webhookd receiver in Python with the standard library only.

It verifies both signatures webhookd sends over the raw body bytes, refuses
timestamps more than 5 minutes away, and handles each webhook-id once.

    WEBHOOK_SECRET='whsec_...' PORT=8000 python3 receiver.py

While you rotate the webhook's secret, give both, new first:
WEBHOOK_SECRET='whsec_new... whsec_old...'.

Answers: 2xx when the delivery is genuine (also for a duplicate, so webhookd
stops retrying it), 401 when it is not.
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


def signing_key(secret):
    """The Standard Webhooks key: the base64-decoded part after "whsec_",
    or the secret's own bytes for any other secret."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def verify_webhook(raw_body, headers, secret, now=None):
    """Check a delivery. raw_body is the body exactly as received (bytes,
    never json.dumps of a parsed body); headers is any case-insensitive
    mapping such as self.headers. secret is the webhook's secret, or while
    you rotate it the new and the old one separated by a space (secrets never
    contain spaces): the delivery is genuine if one of them verifies. Returns
    None when the delivery is genuine, or the reason it is not."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    seed_signature = headers.get("X-Webhook-Signature")
    if not (msg_id and timestamp and signatures and seed_signature):
        return "missing webhook-id, webhook-timestamp, webhook-signature or X-Webhook-Signature"
    now = int(time.time()) if now is None else now
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes away"
    problem = "no secret to verify with"
    for s in secret.split():
        problem = check_signatures(raw_body, msg_id, timestamp, signatures, seed_signature, s)
        if problem is None:
            return None
    return problem


def check_signatures(raw_body, msg_id, timestamp, signatures, seed_signature, secret):
    """Check both signatures with one secret: None, or the one that does not
    match."""
    # The seed's scheme: "sha256=" + hex HMAC-SHA256 of the raw body, keyed
    # with the secret string.
    seed_expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(seed_signature.encode(), seed_expected.encode()):
        return "X-Webhook-Signature does not match"

    # Standard Webhooks: "v1," + base64 HMAC-SHA256 of "id.timestamp.body".
    # The header may list several space-separated signatures (two while the
    # webhook's secret is being rotated); one must match.
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + raw_body
    expected = "v1," + base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(s.encode(), expected.encode()) for s in signatures.split(" ")):
        return "webhook-signature does not match"
    return None


# Handled webhook-ids. Keep them in your database in production (a unique
# key on the id), so duplicates are caught across restarts and instances.
seen = set()
counts = {"verified": 0, "rejected": 0, "duplicates": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length)
        problem = verify_webhook(raw_body, self.headers, self.server.secret)
        if problem:
            with lock:
                counts["rejected"] += 1
            self.answer(401, "Invalid signature", "rejected: " + problem)
            return
        msg_id = self.headers["webhook-id"]
        with lock:
            duplicate = msg_id in seen
            if duplicate:
                counts["duplicates"] += 1
        if duplicate:
            self.answer(200, "OK (duplicate)", "duplicate %s: already handled" % msg_id)
            return
        # Parse only after verifying, from the same bytes.
        event = json.loads(raw_body)
        # ... handle event["event"] and event["data"] here; answer quickly
        # (within webhookd's delivery timeout) and do slow work afterwards.
        with lock:
            seen.add(msg_id)
            counts["verified"] += 1
        self.answer(200, "OK", "verified %s %s" % (msg_id, event["event"]))

    def answer(self, status, text, line):
        print(line, flush=True)
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # one line per request is printed by answer


def main():
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        sys.exit("set WEBHOOK_SECRET to the webhook's secret")
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8000"))), Handler)
    server.secret = secret

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print("listening on :%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    # With EXPECT_REJECTED set (as the repository's tests do), exit 0 only if
    # something verified and exactly that many requests were rejected: a real
    # delivery rejected fails it.
    with lock:
        print("summary verified=%d rejected=%d duplicates=%d"
              % (counts["verified"], counts["rejected"], counts["duplicates"]), flush=True)
        code = 0
        if "EXPECT_REJECTED" in os.environ:
            ok = counts["verified"] > 0 and counts["rejected"] == int(os.environ["EXPECT_REJECTED"])
            code = 0 if ok else 1
    sys.exit(code)


if __name__ == "__main__":
    main()
