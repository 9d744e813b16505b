#!/usr/bin/env bash
# diorama serve vs nginx as HTTP servers, side by side in the same run (this machine is noisy:
# only same-run comparisons mean anything; rounds alternate the two servers and the median is
# reported). Prints one JSON object.
#
#   serve   `diorama serve` with one thread on a scenario whose route has no modelled latency
#           (1 ns: the answer is never held), GET /hello -> a small JSON answer, counted in
#           /metrics like every request
#   nginx   1 worker, `return 200 "ok"`
#
# Both servers are pinned to core 1, wrk (`-t1 -c50`) to core 0 (taskset).
# usage: bench/serve_bench.sh [--seconds N] [--rounds N]   (BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
D=$BUILD/diorama
SECS=5
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in --seconds) SECS=$2; shift ;; --rounds) ROUNDS=$2; shift ;; *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 77; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

NPORT=$(port)
cat >"$TMP/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log stderr; pid $TMP/nginx.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; client_body_temp_path $TMP;
  server { listen 127.0.0.1:$NPORT; location / { return 200 "ok"; } } }
CONF
taskset -c 1 "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx.err" &
wait_port "$NPORT"

cat >"$TMP/zero.yaml" <<'YAML'
name: zero
services:
  - name: hello
    operations:
      - {name: GET /hello, latency: {base: 1ns, jitter: 0}}
YAML
SPORT=$(port)
taskset -c 1 "$D" serve "$TMP/zero.yaml" --listen "127.0.0.1:$SPORT" --threads 1 -q >"$TMP/serve.out" &
SERVE=$!
wait_port "$SPORT"
curl -sf "http://127.0.0.1:$SPORT/hello" >/dev/null

rps() { taskset -c 0 wrk -t1 -c50 -d"${SECS}s" "$1" | awk '/Requests\/sec/ {print int($2)}'; }
s_all="" n_all=""
for _ in $(seq "$ROUNDS"); do
  s_all="$s_all $(rps "http://127.0.0.1:$SPORT/hello")"
  n_all="$n_all $(rps "http://127.0.0.1:$NPORT/")"
done
answered=$(curl -s "http://127.0.0.1:$SPORT/metrics" |
  awk '/^http_server_requests_total\{route="GET \/hello"/ {s += $NF} END {print s + 0}')
kill -TERM "$SERVE"
wait "$SERVE" || true
s_med=$(echo "$s_all" | median)
n_med=$(echo "$n_all" | median)

cat <<JSON
{
  "machine": {"nproc": $(nproc), "date": "$(date -u +%FT%TZ)"},
  "wrk": "-t1 -c50 -d${SECS}s, core 0; servers on core 1; $ROUNDS rounds, median",
  "serve_rps": $s_med,
  "nginx_rps": $n_med,
  "serve_vs_nginx": $(node -e "console.log(($s_med / $n_med).toFixed(2))"),
  "rounds": {"serve": [$(echo $s_all | tr ' ' ',')], "nginx": [$(echo $n_all | tr ' ' ',')]},
  "serve_counted_in_metrics": $answered
}
JSON
