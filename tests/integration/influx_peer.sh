# InfluxDB 1.x for tests and benchmarks (sourced; not a test itself): a server of our own on
# 127.0.0.1, free ports for HTTP and the RPC bind-address, data in a directory under $1,
# reporting off, stopped by PID. Needs free_port and wait_port (tests/integration/lib.sh).
#   influx_start DIR       sets INFLUX_PORT, INFLUX_PID, INFLUX_URL; 0 when it answers /ping
#   influx_stop            SIGTERM, wait for the PID
#   influxql DB QUERY      GET /query, JSON on stdout
INFLUXD=${INFLUXD:-/usr/bin/influxd}

influx_start() {
  local dir=$1
  mkdir -p "$dir"
  [ -z "${INFLUX_PORT:-}" ] && INFLUX_PORT=$(free_port)
  [ -z "${INFLUX_RPC:-}" ] && INFLUX_RPC=$(free_port)
  cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUX_RPC"
[meta]
  dir = "$dir/meta"
  logging-enabled = false
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0
EOF
  "$INFLUXD" run -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
  INFLUX_PID=$!
  PIDS+=($INFLUX_PID)
  INFLUX_URL="http://127.0.0.1:$INFLUX_PORT"
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf "$INFLUX_URL/ping" >/dev/null 2>&1 && return 0
    kill -0 "$INFLUX_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "influxd did not start:" >&2
  tail -5 "$dir/influxd.log" >&2
  return 1
}

influx_stop() {
  kill -TERM "$INFLUX_PID" 2>/dev/null
  wait "$INFLUX_PID" 2>/dev/null
}

influxql() { # db query
  curl -sS -G "$INFLUX_URL/query" --data-urlencode "db=$1" --data-urlencode "q=$2"
}
