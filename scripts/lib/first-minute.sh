#!/usr/bin/env bash
# The README's first minute, as written, against the stack `scripts/run` starts (servers on free
# ports, data in a temporary folder, the debug build scripts/test made), then SIGTERM to
# scripts/run as a supervisor would send it: it must stop `billing all` and both servers.
# Called by scripts/test; exits non-zero, saying why, when anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/servers.sh
WORK=$(mktemp -d /tmp/billing-first-minute.XXXXXX)
RUN_PID=""
cleanup() {
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then kill -KILL "$RUN_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "first-minute: FAILED: $*" >&2; echo "--- scripts/run's output:" >&2; tail -40 "$WORK/run.log" >&2 || true; exit 1; }

export BILLING_LOCAL_REDIS_PORT=$(free_port) BILLING_LOCAL_MONGO_PORT=$(free_port) BILLING_HTTP_PORT=$(free_port)
export BILLING_LOCAL_DATA_DIR="$WORK/data" BILLING_RUN_BUILD=debug
unset BILLING_REDIS_URL BILLING_MONGO_URL
scripts/run >"$WORK/run.log" 2>&1 &
RUN_PID=$!
wait_ready "http://127.0.0.1:$BILLING_HTTP_PORT" "$RUN_PID" || fail "scripts/run's stack did not become ready"

# The first ```sh block after the README's "A first minute" heading, run as written.
awk '/^## A first minute/{f=1} f&&/^```sh/{b=1;next} b&&/^```/{exit} b' README.md >"$WORK/first-minute.sh"
[ -s "$WORK/first-minute.sh" ] || fail "no sh block under '## A first minute' in README.md"
export BILLING="$(swift build --show-bin-path)/billing" API="http://127.0.0.1:$BILLING_HTTP_PORT"
export BILLING_REDIS_URL="redis://127.0.0.1:$BILLING_LOCAL_REDIS_PORT" BILLING_MONGO_URL="mongodb://127.0.0.1:$BILLING_LOCAL_MONGO_PORT/billing"
bash -euo pipefail "$WORK/first-minute.sh" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; fail "the README's first minute failed"; }
for expected in '^cus_' '^plan_' "'email': 'grace@example.com'" '^ey' "'kty': 'EC'"; do
  grep -q -- "$expected" "$WORK/out.txt" || { cat "$WORK/out.txt" >&2; fail "the first minute printed nothing matching $expected"; }
done

# SIGTERM to scripts/run stops everything it started.
kill -TERM "$RUN_PID"
for _ in $(seq 1 300); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$RUN_PID" 2>/dev/null && fail "scripts/run still runs 30 s after SIGTERM"
wait "$RUN_PID" && status=0 || status=$?
for port in "$BILLING_HTTP_PORT" "$BILLING_LOCAL_REDIS_PORT" "$BILLING_LOCAL_MONGO_PORT"; do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && fail "something still listens on :$port after scripts/run stopped"
done
grep -q '"msg":"stopped"' "$WORK/run.log" || fail "billing all did not log that it stopped"
[ "$status" = 0 ] || fail "scripts/run exited with $status after SIGTERM (billing all drains and exits 0)"
RUN_PID=""
echo "first-minute: the README's first minute works against scripts/run; SIGTERM stopped everything (exit $status)"
