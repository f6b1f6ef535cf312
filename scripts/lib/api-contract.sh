#!/usr/bin/env bash
# The API contract: schemathesis, driven by the served /openapi.json, against the stack `scripts/run`
# starts (servers on free ports, data in a temporary folder, the debug build scripts/test made). It
# sends generated requests (the document's examples, then bounded fuzzing with a fixed seed) as an
# admin and anonymously, and fails when an answer's status is not documented for its operation,
# its body does not match the documented schema or content type, a documented header is malformed,
# or the server answers 5xx. Called by scripts/test; exits non-zero, saying why, when anything fails.
# BILLING_CONTRACT_EXAMPLES (default 20) bounds the test cases per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/servers.sh
WORK=$(mktemp -d /tmp/billing-api-contract.XXXXXX)
RUN_PID=""
CHILD=""
# scripts/run runs in a process group of its own: SIGTERM lets it drain `billing all` and stop both
# servers; whatever still runs 30 s later (only what this script started) is killed.
cleanup() {
  if [ -n "$CHILD" ]; then kill -TERM "$CHILD" 2>/dev/null || true; fi
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM "$RUN_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$RUN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { echo "api-contract: FAILED: $*" >&2; echo "--- scripts/run's output:" >&2; tail -40 "$WORK/run.log" >&2 || true; exit 1; }
started=$SECONDS

export BILLING_LOCAL_REDIS_PORT=$(free_port) BILLING_LOCAL_MONGO_PORT=$(free_port) BILLING_HTTP_PORT=$(free_port)
export BILLING_LOCAL_DATA_DIR="$WORK/data" BILLING_RUN_BUILD=debug
# Fuzzing sends hundreds of requests a second from one IP and one principal: limits that high keep
# the answers about the routes themselves (the 429s stay documented, and the gateway tests check them).
export BILLING_RATE_LIMIT_AUTH=10000 BILLING_RATE_LIMIT_IP=10000 BILLING_RATE_LIMIT_PRINCIPAL=10000
unset BILLING_REDIS_URL BILLING_MONGO_URL
setsid scripts/run >"$WORK/run.log" 2>&1 &
RUN_PID=$!
API="http://127.0.0.1:$BILLING_HTTP_PORT"
wait_ready "$API" "$RUN_PID" || fail "scripts/run's stack did not become ready"
echo "api-contract: scripts/run's stack is ready ($((SECONDS - started)) s)"

# An admin and its access token, as the README's first minute gets them.
BILLING="$(swift build --show-bin-path)/billing"
PASSWORD=$(BILLING_REDIS_URL="redis://127.0.0.1:$BILLING_LOCAL_REDIS_PORT" \
  BILLING_MONGO_URL="mongodb://127.0.0.1:$BILLING_LOCAL_MONGO_PORT/billing" \
  "$BILLING" admin bootstrap | sed -n 's/^password: *//p')
[ -n "$PASSWORD" ] || fail "billing admin bootstrap printed no password"
ACCESS=$(curl -s "$API/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || fail "the admin could not sign in"

# One object of each kind, so the admin run's requests to `/…/{id}` reach real objects (not only 404s).
# The webhook endpoint points at a closed loopback port (http to loopback is allowed in development):
# its deliveries fail here, and go nowhere else.
post() { # path, JSON body → the new object's id
  curl -s "$API$1" -H "Authorization: Bearer $ACCESS" -H 'content-type: application/json' -d "$2" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' || fail "could not create the test data with POST $1"
}
first() { # path → the id of the first object it lists
  curl -s "$API$1" -H "Authorization: Bearer $ACCESS" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])' || fail "GET $1 listed nothing"
}
CUSTOMER=$(post /v1/customers '{"name":"Contract","email":"contract@example.com"}')
PLAN=$(post /v1/plans '{"name":"Contract","price":"10.00","currency":"USD","interval":"month"}')
METHOD=$(post /v1/payment-methods "{\"customer_id\":\"$CUSTOMER\",\"token\":\"pm_card_visa\"}")
SUBSCRIPTION=$(post /v1/subscriptions "{\"customer_id\":\"$CUSTOMER\",\"plan_id\":\"$PLAN\"}")
INVOICE=$(first /v1/invoices)
ENDPOINT=$(post /v1/webhook-endpoints "{\"url\":\"http://127.0.0.1:$(free_port)/hooks\",\"events\":[\"*\"]}")
EVENT=$(first /v1/events)
CLOCK=$(post /v1/test-clocks '{"frozen_time":"2026-01-01T00:00:00Z"}')
KEY=$(post /v1/api-keys '{"name":"contract"}')
CLIENT=$(post /v1/oauth/clients '{"name":"contract","scopes":[]}')
COUPON=$(post /v1/coupons '{"percent_off":10,"duration":"once"}')
TAX_RATE=$(post /v1/tax-rates '{"display_name":"VAT","percentage":19,"inclusive":false}')
CREDIT_NOTE=$(post /v1/credit-notes "{\"invoice\":\"$INVOICE\",\"amount\":\"1.00\"}")
ITEM=$(post /v1/invoice-items "{\"customer_id\":\"$CUSTOMER\",\"description\":\"Setup\",\"unit_amount\":\"5.00\",\"currency\":\"USD\"}")
# No state kept between runs (schemathesis would replay earlier crashes first, from .schemathesis/).
printf '[cache]\nenabled = false\n' >"$WORK/base.toml"
{
  cat "$WORK/base.toml"
  for pair in "customers:$CUSTOMER" "plans:$PLAN" "payment-methods:$METHOD" "subscriptions:$SUBSCRIPTION" \
    "invoices:$INVOICE" "webhook-endpoints:$ENDPOINT" "events:$EVENT" "test-clocks:$CLOCK" "api-keys:$KEY" \
    "oauth/clients:$CLIENT" "coupons:$COUPON" "tax-rates:$TAX_RATE" "credit-notes:$CREDIT_NOTE" \
    "invoice-items:$ITEM"; do
    printf '[[operations]]\ninclude-path-regex = "^/v1/%s/\\\\{id\\\\}"\nparameters = { "path.id" = "%s" }\n' "${pair%%:*}" "${pair#*:}"
  done
  printf '[[operations]]\ninclude-path-regex = "^/v1/invoices/upcoming"\nparameters = { "query.subscription" = "%s" }\n' "$SUBSCRIPTION"
} >"$WORK/objects.toml"

# Runs schemathesis in the background and waits, so a SIGTERM to this script is handled at once.
# Deterministic generation (no random seed, no example database) and the bounds make each operation's
# test cases the same every run; four workers share the operations, so only their interleaving varies.
schemathesis() { # name, test cases per operation and phase, then schemathesis arguments
  local name=$1 examples=$2 status=0
  shift 2
  echo "api-contract: $name"
  .venv/bin/schemathesis --config-file "${CONFIG:-$WORK/base.toml}" run "$API/openapi.json" --url "$API" \
    --phases examples,fuzzing --max-examples "$examples" \
    --generation-deterministic --workers 4 --no-color \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --request-timeout 30 --suppress-health-check all "$@" >"$WORK/$name.log" 2>&1 &
  CHILD=$!
  wait "$CHILD" || status=$?
  CHILD=""
  if [ "$status" -ne 0 ]; then
    cat "$WORK/$name.log" >&2
    fail "schemathesis found the API untrue to its document ($name, exit $status)"
  fi
  echo "  $(grep -A1 '^Test cases:' "$WORK/$name.log" | tail -n 1 | xargs), $(tail -n 1 "$WORK/$name.log" | tr -d '=' | xargs)"
}

# Excluded from the admin run, and why:
# - POST /v1/auth/logout revokes the admin's own token, so every later request would be a 401: it runs
#   after the others, on its own, and the revoked token is then sent everywhere once more (public
#   routes refuse a revoked token too: 401).
# - POST /v1/webhook-endpoints would make the webhook worker POST every event to whatever public
#   https host the fuzzer made up; a test here sends traffic to loopback only. (Anonymously it is a 401.)
EXAMPLES=${BILLING_CONTRACT_EXAMPLES:-20}
CONFIG="$WORK/objects.toml" schemathesis admin "$EXAMPLES" -H "Authorization: Bearer $ACCESS" \
  --exclude-operation-id authLogout --exclude-operation-id webhookEndpointCreate
schemathesis anonymous "$EXAMPLES"
schemathesis logout "$EXAMPLES" -H "Authorization: Bearer $ACCESS" --include-operation-id authLogout
curl -s -o /dev/null -w '%{http_code}' "$API/v1/api-keys" -H "Authorization: Bearer $ACCESS" | grep -qx 401 ||
  fail "the admin's token still works after the logout run: POST /v1/auth/logout was never answered 204"
schemathesis revoked-token "$(((EXAMPLES + 3) / 4))" -H "Authorization: Bearer $ACCESS"
echo "api-contract: the API answers as schemas/openapi.yaml documents, as admin and anonymously ($((SECONDS - started)) s)"
