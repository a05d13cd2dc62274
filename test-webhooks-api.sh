#!/usr/bin/env bash
# test-webhooks-api.sh drives a running webhookd through the whole webhooks
# API with curl: readiness, login, create, list, get, update, secret
# rotation, test, publish, logs, redelivery, stats and delete. It prints one
# line per step and stops with a non-zero exit at the first step that does
# not answer as documented.
#
#   EMAIL=admin@localhost PASSWORD='…' ./test-webhooks-api.sh
#
# Environment:
#   BASE_URL         webhookd's address (default http://localhost:3000)
#   EMAIL, PASSWORD  a user to log in as (required)
#   WEBHOOK_URL      where the webhook it creates points (default
#                    https://example.com/webhook); the webhook is deleted at
#                    the end. A URL on this machine or a private network
#                    needs webhookd started with --allow-private-targets
#   EXPECT_DELIVERY  set to 1 when WEBHOOK_URL answers 2xx: the test send must
#                    then succeed and the published event must be delivered
#                    within DELIVERY_WAIT seconds (default 30)
# Needs bash and curl only.
set -euo pipefail

BASE_URL=${BASE_URL:-http://localhost:3000}
BASE_URL=${BASE_URL%/}
EMAIL=${EMAIL:?set EMAIL to the user to log in as}
PASSWORD=${PASSWORD:?set PASSWORD to that user\'s password}
WEBHOOK_URL=${WEBHOOK_URL:-https://example.com/webhook}
EXPECT_DELIVERY=${EXPECT_DELIVERY:-0}
DELIVERY_WAIT=${DELIVERY_WAIT:-30}

body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT
TOKEN=""
STATUS=""
BODY=""

# json_escape quotes a string for a JSON document.
json_escape() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# field prints the first string value of "name" in BODY (webhookd answers
# compact JSON, and ids, tokens and secrets hold no quotes).
field() {
  grep -o "\"$1\":\"[^\"]*\"" <<<"$BODY" | head -n 1 | cut -d'"' -f4 || true
}

# number prints the first number value of "name" in BODY.
number() {
  grep -o "\"$1\":[0-9.]*" <<<"$BODY" | head -n 1 | cut -d: -f2 || true
}

fail() {
  echo "FAIL $1" >&2
  exit 1
}

# call STEP WANT METHOD PATH [JSON]: one request; fails unless the answer has
# status WANT. Leaves the answer in STATUS and BODY.
call() {
  local step=$1 want=$2 method=$3 path=$4 data=${5:-}
  local args=(-sS -o "$body_file" -w '%{http_code}' -X "$method" "$BASE_URL$path")
  [ -n "$TOKEN" ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ -n "$data" ] && args+=(-H "Content-Type: application/json" --data-binary "$data")
  if ! STATUS=$(curl "${args[@]}"); then
    fail "$step: $method $path: no answer from $BASE_URL (is webhookd running?)"
  fi
  BODY=$(cat "$body_file")
  if [ "$STATUS" != "$want" ]; then
    fail "$step: $method $path: want $want, got $STATUS: $BODY"
  fi
}

ok() { echo "ok   $*"; }

# 0. ready: the database answers, migrations are current, the dispatcher runs
call ready 200 GET /readyz
grep -q '"status":"ok"' <<<"$BODY" || fail "ready: want status ok in $BODY"
ok "ready            GET /readyz → 200, database, migrations and dispatcher ok"

# 1. login
call login 200 POST /api/v1/auth/login "{\"email\":$(json_escape "$EMAIL"),\"password\":$(json_escape "$PASSWORD")}"
TOKEN=$(field accessToken)
[ -n "$TOKEN" ] || fail "login: no accessToken in $BODY"
ok "login            POST /api/v1/auth/login → 200, token received"

# 2. create
name="test-webhooks-api.sh $(date +%s)"
call create 201 POST /api/v1/webhooks \
  "{\"name\":$(json_escape "$name"),\"url\":$(json_escape "$WEBHOOK_URL"),\"events\":[\"message.new\",\"conversation.created\"],\"description\":\"created by test-webhooks-api.sh\"}"
WEBHOOK_ID=$(field id)
[ -n "$WEBHOOK_ID" ] || fail "create: no id in $BODY"
[[ $(field secret) == whsec_* ]] || fail "create: want a generated whsec_ secret in $BODY"
ok "create           POST /api/v1/webhooks → 201, id $WEBHOOK_ID"

# 3. list
call list 200 GET "/api/v1/webhooks?limit=100"
grep -q "\"id\":\"$WEBHOOK_ID\"" <<<"$BODY" || fail "list: webhook $WEBHOOK_ID not in the first page: $BODY"
grep -q '"nextCursor":' <<<"$BODY" || fail "list: no nextCursor in $BODY"
ok "list             GET /api/v1/webhooks → 200, webhook listed"

# 4. get
call get 200 GET "/api/v1/webhooks/$WEBHOOK_ID"
[ "$(field id)" = "$WEBHOOK_ID" ] || fail "get: want id $WEBHOOK_ID in $BODY"
grep -q '"isActive":true' <<<"$BODY" || fail "get: want isActive true in $BODY"
ok "get              GET /api/v1/webhooks/$WEBHOOK_ID → 200, active"

# 5. update
call update 200 PATCH "/api/v1/webhooks/$WEBHOOK_ID" "{\"name\":$(json_escape "$name (renamed)")}"
[ "$(field name)" = "$name (renamed)" ] || fail "update: want the new name in $BODY"
ok "update           PATCH /api/v1/webhooks/$WEBHOOK_ID → 200, renamed"

# 5b. rotate: a new secret, the old one signing beside it for --secret-grace
old_secret=$(field secret) # the update's answer shows the secret in full
call rotate 200 POST "/api/v1/webhooks/$WEBHOOK_ID/rotate-secret"
new_secret=$(field secret)
[[ $new_secret == whsec_* && $new_secret != "$old_secret" ]] || fail "rotate: want a new whsec_ secret in $BODY"
grep -q '"previousSecretExpiresAt":' <<<"$BODY" || fail "rotate: no previousSecretExpiresAt in $BODY"
ok "rotate           POST /api/v1/webhooks/$WEBHOOK_ID/rotate-secret → 200, new secret, old one until $(field previousSecretExpiresAt)"

# 6. test
call test 200 POST "/api/v1/webhooks/$WEBHOOK_ID/test" \
  '{"eventType":"message.new","payload":{"messageId":"test_123","content":"Hello World"}}'
LOG_ID=$(field logId)
[ -n "$LOG_ID" ] || fail "test: no logId in $BODY"
if grep -q '"success":true' <<<"$BODY"; then
  ok "test             POST /api/v1/webhooks/$WEBHOOK_ID/test → 200, delivered (receiver answered $(number statusCode))"
elif [ "$EXPECT_DELIVERY" = 1 ]; then
  fail "test: the test delivery to $WEBHOOK_URL failed: $BODY"
else
  ok "test             POST /api/v1/webhooks/$WEBHOOK_ID/test → 200, not delivered: $BODY"
fi

# 7. publish
call publish 202 POST /api/v1/events \
  '{"event":"message.new","data":{"messageId":"msg_123","conversationId":"conv_456","content":"Hello!"}}'
EVENT_ID=$(field id)
deliveries=$(number deliveries)
[ "${deliveries:-0}" -ge 1 ] || fail "publish: want at least 1 delivery in $BODY"
ok "publish          POST /api/v1/events → 202, event $EVENT_ID, $deliveries deliveries"

# 8. logs
call logs 200 GET "/api/v1/webhooks/$WEBHOOK_ID/logs"
if [ "$EXPECT_DELIVERY" = 1 ]; then
  deadline=$((SECONDS + DELIVERY_WAIT))
  until grep -q "\"eventId\":\"$EVENT_ID\"[^}]*\"status\":\"success\"" <<<"$BODY"; do
    [ $SECONDS -lt $deadline ] || fail "logs: event $EVENT_ID not delivered within ${DELIVERY_WAIT}s: $BODY"
    sleep 0.2
    call logs 200 GET "/api/v1/webhooks/$WEBHOOK_ID/logs?eventType=message.new"
  done
  ok "logs             GET /api/v1/webhooks/$WEBHOOK_ID/logs → 200, event $EVENT_ID delivered"
else
  ok "logs             GET /api/v1/webhooks/$WEBHOOK_ID/logs → 200, $(grep -o '"attempt":' <<<"$BODY" | wc -l | tr -d ' ') attempts"
fi

# 8b. redeliver: the test send's delivery again, same webhook-id
call redeliver 202 POST "/api/v1/webhooks/$WEBHOOK_ID/logs/$LOG_ID/redeliver"
grep -q '"status":"pending"' <<<"$BODY" || fail "redeliver: want status pending in $BODY"
ok "redeliver        POST /api/v1/webhooks/$WEBHOOK_ID/logs/$LOG_ID/redeliver → 202, delivery $(field deliveryId) queued"

# 9. stats
call stats 200 GET "/api/v1/webhooks/$WEBHOOK_ID/stats"
[ -n "$(number totalDeliveries)" ] || fail "stats: no totalDeliveries in $BODY"
ok "stats            GET /api/v1/webhooks/$WEBHOOK_ID/stats → 200, $(number totalDeliveries) attempts, $(number successRate)% success"

# 10. delete
call delete 204 DELETE "/api/v1/webhooks/$WEBHOOK_ID"
call "get after delete" 404 GET "/api/v1/webhooks/$WEBHOOK_ID"
ok "delete           DELETE /api/v1/webhooks/$WEBHOOK_ID → 204, then GET → 404"

echo "all steps passed against $BASE_URL"
