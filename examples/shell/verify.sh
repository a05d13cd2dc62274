#!/usr/bin/env bash
# Verify one saved webhookd delivery with openssl.
#
# The seed's X-Webhook-Signature (sha256= + hex HMAC of the body):
#   WEBHOOK_SECRET='whsec_...' ./verify.sh body.json "$X_WEBHOOK_SIGNATURE"
# Standard Webhooks (v1, + base64 HMAC of "id.timestamp.body"), which also
# checks the timestamp is within 5 minutes and, with SEEN_IDS_FILE set,
# that the webhook-id was not handled before:
#   WEBHOOK_SECRET='whsec_...' ./verify.sh body.json "$WEBHOOK_ID" "$WEBHOOK_TIMESTAMP" "$WEBHOOK_SIGNATURE"
# While you rotate the webhook's secret, WEBHOOK_SECRET may hold the new and
# the old secret separated by a space; one of them must verify.
#
# body.json must hold the body exactly as received (curl --data-binary @file,
# never a re-formatted copy). Exit status: 0 verified, 1 rejected, 2 usage,
# 3 verified but a duplicate.
set -euo pipefail

secrets=${WEBHOOK_SECRET:?set WEBHOOK_SECRET to the webhook\'s secret}
body=${1:?usage: verify.sh BODY_FILE X_WEBHOOK_SIGNATURE | verify.sh BODY_FILE ID TIMESTAMP SIGNATURE}

if [ $# -eq 2 ]; then
  for secret in $secrets; do
    # One line: hex HMAC-SHA256 of the raw body, keyed with the secret string.
    expected="sha256=$(openssl dgst -sha256 -hmac "$secret" -r <"$body" | cut -d' ' -f1)"
    if [ "$expected" = "$2" ]; then echo "verified"; exit 0; fi
  done
  echo "rejected: X-Webhook-Signature does not match"; exit 1
fi
[ $# -eq 4 ] || { echo "usage: verify.sh BODY_FILE X_WEBHOOK_SIGNATURE | verify.sh BODY_FILE ID TIMESTAMP SIGNATURE" >&2; exit 2; }
id=$2 timestamp=$3 signatures=$4

now=$(date +%s)
if ! [[ $timestamp =~ ^[0-9]+$ ]] || ((now - timestamp > 300 || timestamp - now > 300)); then
  echo "rejected: webhook-timestamp is more than 5 minutes away"; exit 1
fi

for secret in $secrets; do
  # The key: base64-decoded part after whsec_, or the secret's own bytes.
  if [[ $secret == whsec_* ]]; then
    key_hex=$(printf '%s' "${secret#whsec_}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
  else
    key_hex=$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')
  fi
  # One line: base64 HMAC-SHA256 of "id.timestamp.body".
  expected="v1,$({ printf '%s.%s.' "$id" "$timestamp"; cat "$body"; } | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A)"

  for s in $signatures; do # several space-separated signatures: one must match
    if [ "$s" = "$expected" ]; then
      if [ -n "${SEEN_IDS_FILE:-}" ]; then
        if grep -qxF -- "$id" "$SEEN_IDS_FILE" 2>/dev/null; then echo "duplicate: $id already handled"; exit 3; fi
        echo "$id" >>"$SEEN_IDS_FILE"
      fi
      echo "verified"; exit 0
    fi
  done
done
echo "rejected: webhook-signature does not match"; exit 1
