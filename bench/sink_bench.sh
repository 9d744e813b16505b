#!/usr/bin/env bash
# diorama sink benchmarks (not a test: prints JSON lines, asserts nothing but zero loss).
#
#   bench/sink_bench.sh [BUILD_DIR]      (default: build)
#
# 1. decode + verify on one core: record the requests of a `diorama run shop` with
#    `diorama sink --record`, replay them in-process with bench/sink_decode.c
#    (target >= 1,000,000 spans/s).
# 2. loopback: `diorama run --speed max --signals traces` -> `diorama sink --expect` on this
#    machine; spans per wall second delivered with verdict pass (target >= 500,000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
D=$BUILD/diorama
TMP=$(mktemp -d)
SINK=
trap '[ -n "$SINK" ] && kill "$SINK" 2>/dev/null; rm -rf "$TMP"' EXIT

start_sink() { # args...
  rm -f "$TMP/port"
  "$D" sink --listen 127.0.0.1:0 --port-file "$TMP/port" -q "$@" >"$TMP/sink.out" 2>&1 &
  SINK=$!
  for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
}

# 1. decode + verify
mkdir -p "$TMP/req"
start_sink --expect "$TMP/rec.json" --record "$TMP/req"
"$D" run shop --otlp "http://127.0.0.1:$(cat "$TMP/port")" --speed max --duration 5m \
  --on-full block --summary-json "$TMP/rec.json" -q >/dev/null
wait "$SINK"
SINK=
"$BUILD/sink_decode" "$TMP/req" 3
"$BUILD/sink_decode" "$TMP/req" 3 traces

# 2. loopback pipeline, three times; the verdict must pass each time
for i in 1 2 3; do
  rm -f "$TMP/run.json"
  start_sink --expect "$TMP/run.json" --json "$TMP/v.json"
  "$D" run shop --otlp "http://127.0.0.1:$(cat "$TMP/port")" --speed max --duration 2h \
    --signals traces --on-full block --summary-json "$TMP/run.json" -q >/dev/null
  rc=0
  wait "$SINK" || rc=$?
  SINK=
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
    const v = JSON.parse(require("fs").readFileSync(process.argv[2]));
    const s = r.signals.spans;
    console.log(JSON.stringify({bench: "sink_loopback", run: Number(process.argv[3]),
      spans: s.delivered, wall_seconds: r.wall_seconds,
      spans_per_s: Math.round(s.delivered / r.wall_seconds), requests: s.requests,
      sink_received: v.received.spans, lost: v.lost, duplicates: v.duplicates,
      verdict: v.verdict, sink_exit: Number(process.argv[4])}));
  ' "$TMP/run.json" "$TMP/v.json" "$i" "$rc"
done
