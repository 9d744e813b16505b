#!/usr/bin/env bash
# diorama benchmarks, each run side by side with a peer on the same machine in the same run
# (this machine is noisy, so only same-run comparisons mean anything). Prints one JSON object.
#
#   gen_encode_spans   generation + OTLP protobuf encoding, --speed max, null output, 1 core
#                      peer: the OpenTelemetry JS SDK + its OTLP protobuf serializer
#   gen_encode_points  the same for metric data points (a fleet of 100 64-CPU hosts)
#                      peer: the OTel JS SDK metrics SDK + serializer, same number of series
#   http_loopback      spans delivered over loopback OTLP/HTTP to a minimal receiver on the
#                      other core (tests/peers/otlp_receiver), counted by the receiver too
#   memory (--long)    RSS at start and end of a 10-minute real-time inference run
#
# usage: bench/run.sh [--long] [--seconds N]   (BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
D=$BUILD/diorama
LONG=0
SECS=5
while [ $# -gt 0 ]; do
  case $1 in --long) LONG=1 ;; --seconds) SECS=$2; shift ;; *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
pin0() { taskset -c 0 "$@"; }
pin1() { taskset -c 1 "$@"; }
jget() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(eval(process.argv[2]))' "$1" "$2"; }

# Pick a simulated duration that keeps diorama busy for about SECS seconds (inference makes
# ~810 spans per simulated second; calibrate on a short run).
pin0 "$D" run inference --speed max --duration 10m --null --signals traces -q --summary-json "$TMP/cal.json" >/dev/null
rate=$(jget "$TMP/cal.json" 'j.signals.spans.generated / j.wall_seconds')
simsecs=$(node -e "console.log(Math.max(600, Math.round($rate * $SECS / 810)))")

# 1. spans: generation + encoding, one core
pin0 "$D" run inference --speed max --duration "${simsecs}s" --null --signals traces -q \
  --summary-json "$TMP/spans.json" >/dev/null
d_spans=$(jget "$TMP/spans.json" 'Math.round(j.signals.spans.generated / j.wall_seconds)')
d_spans_n=$(jget "$TMP/spans.json" 'j.signals.spans.generated')
js_spans=$(pin0 node bench/node/otel_spans.js "$SECS")

# 2. metric points: a fleet of 100 64-CPU hosts (system.cpu.utilization per CPU and mode,
#    memory used/free: 19,400 series), 1 s interval
{
  echo "name: bench-hosts"
  echo "services: [{name: idle, operations: [{name: GET /idle, latency: 1ms}]}]"
  echo "hosts:"
  for i in $(seq 1 100); do echo "  - {name: host-$i, cpu: 30%, cpus: 64, memory_gib: 256}"; done
} >"$TMP/hosts.yaml"
pin0 "$D" run "$TMP/hosts.yaml" --speed max --metric-interval 1s --duration 40m --null \
  --signals metrics -q --summary-json "$TMP/points.json" >/dev/null
d_points=$(jget "$TMP/points.json" 'Math.round(j.signals.metric_points.generated / j.wall_seconds)')
d_points_n=$(jget "$TMP/points.json" 'j.signals.metric_points.generated')
js_points=$(pin0 node bench/node/otel_metrics.js "$SECS" 19400)

# 3. loopback HTTP: diorama on core 0, the receiver on core 1
http="null"
if [ -x "$BUILD/otlp_receiver" ]; then
  taskset -c 1 "$BUILD/otlp_receiver" --port-file "$TMP/port" --stats "$TMP/recv.json" &
  rpid=$!
  for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  port=$(cat "$TMP/port")
  pin0 "$D" run inference --speed max --duration "${simsecs}s" --signals traces -q \
    --otlp "http://127.0.0.1:$port" --batch-size 4096 --summary-json "$TMP/http.json" >/dev/null || true
  kill -TERM $rpid; wait $rpid || true
  http=$(node -e '
    const fs=require("fs");const s=JSON.parse(fs.readFileSync(process.argv[1]));
    let r={};try{r=JSON.parse(fs.readFileSync(process.argv[2]))}catch(e){console.error("bench: receiver stats: "+e.message)}
    const sp=s.signals.spans;
    console.log(JSON.stringify({spans_per_sec:Math.round(sp.delivered/s.wall_seconds),
      generated:sp.generated,delivered:sp.delivered,dropped:sp.dropped,
      receiver_spans:r.spans===undefined?null:r.spans,requests:sp.requests,
      wall_seconds:s.wall_seconds}))' "$TMP/http.json" "$TMP/recv.json")
fi

# 4. memory over a 10-minute real-time run (only with --long)
mem="null"
if [ "$LONG" = 1 ]; then
  "$D" run inference --speed 1 --duration 10m --null -q >/dev/null &
  dpid=$!
  sleep 10
  rss0=$(awk '/VmRSS/{print $2}' /proc/$dpid/status)
  sleep 585
  rss1=$(awk '/VmRSS/{print $2}' /proc/$dpid/status)
  hwm=$(awk '/VmHWM/{print $2}' /proc/$dpid/status)
  wait $dpid || true
  mem="{\"rss_kib_at_10s\":$rss0,\"rss_kib_at_595s\":$rss1,\"peak_rss_kib\":$hwm}"
fi

cat <<JSON
{
  "machine": {"nproc": $(nproc), "date": "$(date -u +%FT%TZ)"},
  "gen_encode_spans": {"diorama_spans_per_sec": $d_spans, "diorama_spans": $d_spans_n,
                       "otel_js": $js_spans, "target_spans_per_sec": 2000000},
  "gen_encode_points": {"diorama_points_per_sec": $d_points, "diorama_points": $d_points_n,
                        "otel_js": $js_points, "target_points_per_sec": 10000000},
  "http_loopback": $http,
  "memory": $mem
}
JSON
