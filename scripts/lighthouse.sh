#!/usr/bin/env bash
# Lighthouse audits (end2end/audits/lighthouse.mjs) against the release server: starts
# target/release/homecall on a free loopback port, waits for /healthz, audits the home
# page and a call link, and stops the server by its PID. Scores go to
# target/lighthouse/results.json (whole reports beside it); the exit status is the audit's. scripts/test.sh runs it
# inside scripts/in-netns.sh, like the browser tests (a call link's page opens a signal
# socket, and nothing here should use the machine's real interface).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
bin=${HOMECALL_BIN:-target/release/homecall}
out=${1:-target/lighthouse/results.json}
server_log=target/lighthouse-server.log

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

port=$(free_port)
base="http://127.0.0.1:$port"
HOMECALL_LISTEN="127.0.0.1:$port" HOMECALL_SITE_ROOT=target/site HOMECALL_LOG=warn \
  "$bin" > "$server_log" 2>&1 &
server_pid=$!
stop_server() { kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT

wait_healthy() {
  for _ in $(seq 1 150); do
    if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$base/healthz"; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "lighthouse: the server did not become healthy on $base (log: $server_log)" >&2
  cat "$server_log" >&2
  return 1
}

rm -f "$out"
wait_healthy
node end2end/audits/lighthouse.mjs "$base" "$out"
