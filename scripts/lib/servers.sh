# Shared by scripts/run, scripts/test and scripts/bench: start and stop local Redis and SecantusDB.
# Source it; call stop_servers from an EXIT trap.

STARTED_PIDS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # port seconds name
  local port=$1 seconds=$2 name=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start listening on 127.0.0.1:$port within ${seconds}s" >&2
  return 1
}

# start_redis PORT DIR [persist]: persist=1 turns AOF on (scripts/run); tests keep nothing.
start_redis() {
  local port=$1 dir=$2 persist=${3:-0}
  mkdir -p "$dir"
  local args=(--bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no --save "" --protected-mode yes)
  if [ "$persist" = 1 ]; then args+=(--appendonly yes); else args+=(--appendonly no); fi
  redis-server "${args[@]}" >"$dir/redis.log" 2>&1 &
  STARTED_PIDS+=($!)
  wait_for_port "$port" 20 redis-server || { tail -20 "$dir/redis.log" >&2; return 1; }
}

# start_mongo PORT DIR: SecantusDB, the local MongoDB-protocol server (DIR ':memory:' for throwaway).
start_mongo() {
  local port=$1 dir=$2 log=$3
  if [ "$dir" != ":memory:" ]; then mkdir -p "$dir"; fi
  .venv/bin/secantusd-py --host 127.0.0.1 --port "$port" --storage-path "$dir" --log-level WARNING >"$log" 2>&1 &
  STARTED_PIDS+=($!)
  wait_for_port "$port" 60 secantusd-py || { tail -20 "$log" >&2; return 1; }
}

# wait_ready URL PID: waits up to 120 s for URL/readyz to answer 200 while process PID runs;
# returns 1 (saying why) if PID exits first or time runs out.
wait_ready() {
  local url=$1 pid=$2
  for _ in $(seq 1 600); do
    curl -sf "$url/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "the process $pid exited before $url was ready" >&2; return 1; }
    sleep 0.2
  done
  echo "$url was not ready within 120 s" >&2
  return 1
}

stop_servers() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}
