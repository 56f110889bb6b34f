#!/usr/bin/env bash
# Start a throwaway InfluxDB 1.x for the tests and print its URL.
#
#   url=$(scripts/start-influxd.sh DIR)      # stop it: scripts/start-influxd.sh --stop DIR
#
# Config, meta, data and WAL live under DIR; HTTP on 127.0.0.1 (port 8086 when
# free, else any free port), no auth, no usage reporting, nothing else listening
# beyond 127.0.0.1. The PID is in DIR/influxd.pid, the log in DIR/influxd.log.
set -euo pipefail

if [ "${1:-}" = "--stop" ]; then
  pidfile="$2/influxd.pid"
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || exit 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  exit 0
fi

dir=$(mkdir -p "$1" && cd "$1" && pwd)
port_for() {  # the preferred port when free, else one the kernel picks
  python3 -c '
import socket, sys
for port in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    s.close()
    break
' "$1"
}
http_port=$(port_for 8086)
rpc_port=$(port_for 8088)

cat > "$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http_port"
  auth-enabled = false
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
CONF

nohup influxd -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
echo $! >"$dir/influxd.pid"
url="http://127.0.0.1:$http_port"
for _ in $(seq 300); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/ping", timeout=1)' \
      "$url" 2>/dev/null; then
    echo "$url"
    exit 0
  fi
  kill -0 "$(cat "$dir/influxd.pid")" 2>/dev/null || break
  sleep 0.1
done
echo "influxd did not start; its log:" >&2
cat "$dir/influxd.log" >&2
exit 1
