#!/usr/bin/env bash
# HomeCall as a cluster on one machine, for a person to try: a redis-server, two nodes
# (the Redis engine) and haproxy in front, which hands signal sockets to the nodes in
# turn and takes out a node whose /healthz fails. Open http://127.0.0.1:8080, then try
# `kill -9` on a node (its PID is printed) mid-call: the call goes on through the other.
# Ctrl-C stops everything. Ports: BASE_PORT (default 8080) for haproxy, +1 Redis, +2 and
# +3 the nodes. Needs scripts/setup.sh (redis-server, haproxy) and scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_PORT=${BASE_PORT:-8080}
redis_port=$((BASE_PORT + 1))
node_ports=($((BASE_PORT + 2)) $((BASE_PORT + 3)))
[ -x target/release/homecall ] || { WITH_BROWSER=0 scripts/setup.sh && scripts/build.sh; }
for tool in redis-server haproxy; do
  command -v "$tool" >/dev/null || { echo "cluster: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

dir=$(mktemp -d -t homecall-cluster-XXXXXX)
pids=()
stop() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT INT TERM

# Append-only file on: what the hub accepted survives a Redis restart.
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" \
  --appendonly yes --appendfsync everysec >"$dir/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done

for port in "${node_ports[@]}"; do
  HOMECALL_LISTEN=127.0.0.1:$port HOMECALL_REDIS_URL=redis://127.0.0.1:$redis_port/0 \
    HOMECALL_TRUSTED_PROXIES=127.0.0.1 \
    target/release/homecall >"$dir/node-$port.log" 2>&1 &
  pids+=($!)
  echo "node on 127.0.0.1:$port: PID $!, log $dir/node-$port.log"
done

cat >"$dir/haproxy.cfg" <<CFG
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # WebSockets stay open for the whole call.
  timeout tunnel 1h
  option redispatch
  retries 3
frontend web
  bind 127.0.0.1:$BASE_PORT
  # Every node sees the client's address (per-address limits count across nodes).
  option forwardfor
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /healthz
  server node0 127.0.0.1:${node_ports[0]} check inter 500ms fall 1 rise 2
  server node1 127.0.0.1:${node_ports[1]} check inter 500ms fall 1 rise 2
CFG
haproxy -db -f "$dir/haproxy.cfg" &
pids+=($!)
echo "HomeCall cluster on http://127.0.0.1:$BASE_PORT (Redis on $redis_port). Watch:"
echo "  curl -s 127.0.0.1:${node_ports[0]}/metrics | grep -E 'sockets_connected|redis_'"
wait
