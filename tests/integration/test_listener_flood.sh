#!/usr/bin/env bash
# Hostile clients against every listener (sink, serve, run --prom-listen), docs/listeners.md:
#  1. 2,000 slowloris connections (a header line every 500 ms, never finished): a legitimate
#     request is answered during the flood; the header timeout (2 s here) closes every slow
#     connection although each keeps sending; after the attacker leaves a request succeeds.
#  2. More connections than --max-connections (600 against 100): over the cap a client gets
#     503 at once, and when the attacker leaves the listener serves again within 10 s (before
#     the fix, libmicrohttpd at its cap missed the closed connections: down for a minute).
# No timing is asserted on the healthy path; the bounds (10 s, 20 s) only catch the failure.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
SLOW="$BUILD/slowloris"
[ -x "$SLOW" ] || skip "tests/peers/slowloris not built"
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge 5000 ] || skip "needs 5000 open files (ulimit -Hn is $(ulimit -Hn))"

SINK_REQ=(-X POST -H 'Content-Type: application/json' -d '{}')

start() { # start NAME CMD... : runs a listener writing its port to $TMP/port.NAME; sets LP, PORT
  local name=$1
  shift
  rm -f "$TMP/port.$name"
  "$@" >"$TMP/out.$name" 2>&1 &
  LP=$!
  PIDS+=($LP)
  for _ in $(seq 200); do [ -s "$TMP/port.$name" ] && break; sleep 0.05; done
  PORT=$(cat "$TMP/port.$name" 2>/dev/null)
}
stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
status() { # status URL CURL-ARGS... -> the HTTP status ("000" when no answer within 10 s)
  local url=$1
  shift
  curl -s -m 10 -o /dev/null -w '%{http_code}' "$@" "$url"
}
flood() { # flood PORT N [args] : starts the attacker, waits until its connections are in
  "$SLOW" 127.0.0.1 "$1" "$2" --interval 500 --status "$TMP/flood" "${@:3}" &
  FP=$!
  PIDS+=($FP)
  for _ in $(seq 300); do [ -s "$TMP/flood" ] && break; sleep 0.05; done
}
flood_closed() { awk '{print $4}' "$TMP/flood" 2>/dev/null || echo 0; }
wait_ok() { # wait_ok URL ARGS... : polls until 200, at most 10 s; prints the seconds it took
  local i
  for ((i = 0; i < 50; i++)); do
    [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "${@:2}" "$1")" = 200 ] && { echo "$i"; return 0; }
    sleep 0.2
  done
  return 1
}

slowloris() { # slowloris NAME URL CURL-ARGS... (listener on $PORT with --header-timeout 2s)
  local name=$1 url=$2
  shift 2
  flood "$PORT" 2000
  check "$name: flood in place ($(cat "$TMP/flood"))" grep -q '^open' "$TMP/flood"
  check "$name: answered during a 2000-connection slowloris" [ "$(status "$url" "$@")" = 200 ]
  local i
  for ((i = 0; i < 100 && $(flood_closed) < 2000; i++)); do sleep 0.2; done
  check "$name: the header timeout closed every slow connection ($(cat "$TMP/flood"))" \
    [ "$(flood_closed)" -ge 2000 ]
  stop "$FP"
  check "$name: answered after the attacker left" wait_ok "$url" "$@"
}

over_cap() { # over_cap NAME URL CURL-ARGS... (listener on $PORT with --max-connections 100)
  local name=$1 url=$2
  shift 2
  flood "$PORT" 600
  # 503, or the connection closed at once (the 503 is written before the close, but a reset
  # for the request bytes nobody read can overtake it); never left waiting (curl exit 28).
  # The listener takes the attacker's connections a few at a time (slowly under ASan): while
  # it has not reached the cap a request is still answered, so ask again for up to 10 s.
  local st rc i
  for ((i = 0; i < 40; i++)); do
    st=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$@" "$url")
    rc=$?
    [ "$st" = 200 ] && [ "$rc" = 0 ] || break
    sleep 0.25
  done
  check "$name: over the cap a client gets 503 or a close at once (got $st, curl exit $rc)" \
    [ "$st" = 503 -o "$rc" = 52 -o "$rc" = 56 ]
  stop "$FP"
  check "$name: serving again within 10 s of the attacker leaving" wait_ok "$url" "$@"
}

# sink
start sink "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port.sink" -q --header-timeout 2s
slowloris sink "http://127.0.0.1:$PORT/v1/traces" "${SINK_REQ[@]}"
stop "$LP"
start sinkcap "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port.sinkcap" -q \
  --max-connections 100
over_cap sink "http://127.0.0.1:$PORT/v1/traces" "${SINK_REQ[@]}"
stop "$LP"

# serve
start serve "$DIORAMA" serve minimal --listen 127.0.0.1:0 --port-file "$TMP/port.serve" -q \
  --header-timeout 2s
slowloris serve "http://127.0.0.1:$PORT/healthz"
stop "$LP"
start servecap "$DIORAMA" serve minimal --listen 127.0.0.1:0 --port-file "$TMP/port.servecap" -q \
  --max-connections 100
over_cap serve "http://127.0.0.1:$PORT/healthz"
stop "$LP"

# run --prom-listen (no port file: a free port, then wait for it)
PORT=$(free_port)
"$DIORAMA" run minimal --null --prom-listen "127.0.0.1:$PORT" --prom-header-timeout 2s \
  --duration 5m -q >"$TMP/out.run" 2>&1 &
LP=$!
PIDS+=($LP)
wait_port "$PORT" 20
slowloris run "http://127.0.0.1:$PORT/metrics"
stop "$LP"
PORT=$(free_port)
"$DIORAMA" run minimal --null --prom-listen "127.0.0.1:$PORT" --prom-max-connections 100 \
  --duration 5m -q >"$TMP/out.runcap" 2>&1 &
LP=$!
PIDS+=($LP)
wait_port "$PORT" 20
over_cap run "http://127.0.0.1:$PORT/metrics"
stop "$LP"
finish
