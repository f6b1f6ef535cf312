#!/usr/bin/env bash
# `scripts/bench retention [SECONDS] [RATE]`: what one principal at its rate limit leaves in Redis.
# Starts `billing all` (BIN: this build's billing-bench, or BILLING_BENCH_BIN's for a before/after
# comparison) on the servers scripts/bench started, bootstraps an admin, makes an API key and one
# customer, then sends GET /v1/customers/{id} at RATE requests/s (default 100, the per-principal
# limit) for SECONDS (default 600), printing Redis's INFO memory every minute and what the run
# left: used_memory growth, bytes per request, command-stream entries and operation states.
set -euo pipefail
BIN="$1"; REDIS_PORT="$2"; SECONDS_TO_RUN="${3:-600}"; RATE="${4:-100}"
WORK=$(mktemp -d /tmp/billing-retention.XXXXXX)
ALL_PID=""
cleanup() {
  if [ -n "$ALL_PID" ] && kill -0 "$ALL_PID" 2>/dev/null; then kill -TERM "$ALL_PID"; wait "$ALL_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
API="http://127.0.0.1:$BILLING_HTTP_PORT"
"$BIN" serve migrate >/dev/null
PASSWORD=$("$BIN" serve admin bootstrap | sed -n 's/^password: *//p')
"$BIN" serve all >"$WORK/all.log" 2>&1 &
ALL_PID=$!
source scripts/lib/servers.sh
wait_ready "$API" "$ALL_PID" || { tail -20 "$WORK/all.log"; exit 1; }

python3 - "$API" "$PASSWORD" "$REDIS_PORT" "$SECONDS_TO_RUN" "$RATE" <<'PY'
import http.client, json, subprocess, sys, threading, time, urllib.parse
api, password, redis_port, seconds, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
host = urllib.parse.urlparse(api)

def call(conn, method, path, body=None, headers={}):
    h = {"content-type": "application/json", **headers}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)

def redis(*args):
    return subprocess.run(["redis-cli", "-p", redis_port, *args], capture_output=True, text=True, check=True).stdout

def used_memory():
    info = dict(l.split(":", 1) for l in redis("info", "memory").splitlines() if ":" in l)
    return int(info["used_memory"])

conn = http.client.HTTPConnection(host.hostname, host.port)
_, login = call(conn, "POST", "/v1/auth/login", {"email": "admin@example.com", "password": password})
_, key = call(conn, "POST", "/v1/api-keys", {"name": "load", "scopes": ["customers:read", "customers:write"], "mode": "test"},
              {"authorization": "Bearer " + login["access_token"]})
api_key = key["key"]
_, customer = call(conn, "POST", "/v1/customers", {"name": "Ada Lovelace", "email": "ada@example.com"}, {"x-api-key": api_key})
path = "/v1/customers/" + customer["id"]
time.sleep(2)
start_memory = used_memory()
print(f"retention: GET {path} at {rate:g}/s for {seconds} s, one API key; used_memory at start {start_memory} B", flush=True)

statuses, lock = {}, threading.Lock()
threads_n = 4
start = time.monotonic()
def worker(k):
    c = http.client.HTTPConnection(host.hostname, host.port)
    i = k
    while True:
        due = start + i / rate
        if due - start >= seconds: return
        delay = due - time.monotonic()
        if delay > 0: time.sleep(delay)
        try:
            status, _ = call(c, "GET", path, headers={"x-api-key": api_key})
        except Exception:
            c = http.client.HTTPConnection(host.hostname, host.port); status = 0
        with lock: statuses[status] = statuses.get(status, 0) + 1
        i += threads_n
threads = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
for t in threads: t.start()
minute = 0
while any(t.is_alive() for t in threads):
    time.sleep(1)
    if time.monotonic() - start >= (minute + 1) * 60:
        minute += 1
        with lock: done = sum(statuses.values())
        print(f"retention: minute {minute}: {done} requests, used_memory {used_memory()} B", flush=True)
for t in threads: t.join()
elapsed = time.monotonic() - start
time.sleep(3)
end_memory = used_memory()
total = sum(statuses.values())
ops = len([k for k in redis("--scan", "--pattern", "billing:op:*").split() if k])
entries = int(redis("xlen", "billing:cmd:customer").strip() or 0)
print(f"retention: {total} requests in {elapsed:.0f} s ({total/elapsed:.1f}/s), statuses {dict(sorted(statuses.items()))}")
print(f"retention: used_memory {start_memory} → {end_memory} B: +{(end_memory-start_memory)/1048576:.2f} MiB, "
      f"{(end_memory-start_memory)/max(total,1):.0f} B per request; billing:cmd:customer holds {entries} entries; "
      f"{ops} operation keys")
print("retention: INFO memory at the end:")
for line in redis("info", "memory").splitlines():
    if line.split(":")[0] in ("used_memory_human", "used_memory_peak_human", "used_memory_dataset", "maxmemory_human"):
        print("  " + line)
PY
