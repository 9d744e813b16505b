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
. bench/http_lib.sh
start_nginx

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
