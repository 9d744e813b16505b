#!/usr/bin/env bash
# OTLP/gRPC vs OTLP/HTTP over loopback (not a test: prints JSON, asserts only zero loss).
#
#   bench/otlp_grpc_bench.sh [BUILD_DIR] [DURATION]     (default: build, 30m simulated)
#
# The same run (`diorama run shop --speed max --signals traces --on-full block`, the same
# records) three times each way, side by side in one invocation:
#   http_sink    --otlp http://...   -> diorama sink --listen        (libmicrohttpd)
#   grpc_sink    --otlp grpc://...   -> diorama sink --grpc-listen   (the h2 listener)
#   grpc_grpcjs  --otlp grpc://...   -> tests/node/otlp_grpc_server.js (@grpc/grpc-js, counts)
# Delivered spans per wall second of the run; the medians, and gRPC / HTTP (goal >= 0.8). Each
# sink run must end with verdict pass (--expect): no loss, no duplicates.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
DUR=${2:-30m}
D=$BUILD/diorama
TMP=$(mktemp -d)
PEER=
trap '[ -n "$PEER" ] && kill "$PEER" 2>/dev/null; rm -rf "$TMP"' EXIT

wait_file() { for _ in $(seq 400); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

start_sink() { # start_sink http|grpc
  rm -f "$TMP/port" "$TMP/gport" "$TMP/run.json"
  "$D" sink --listen 127.0.0.1:0 --port-file "$TMP/port" --grpc-listen 127.0.0.1:0 \
    --grpc-port-file "$TMP/gport" --expect "$TMP/run.json" --json "$TMP/v.json" -q \
    >"$TMP/sink.out" 2>&1 &
  PEER=$!
  wait_file "$TMP/gport"
  if [ "$1" = http ]; then URL="http://127.0.0.1:$(cat "$TMP/port")"; else URL="grpc://127.0.0.1:$(cat "$TMP/gport")"; fi
}

start_grpcjs() {
  rm -f "$TMP/gport" "$TMP/run.json" "$TMP/v.json"
  node "$ROOT/tests/node/otlp_grpc_server.js" --port-file "$TMP/gport" --out "$TMP/v.json" \
    --fast 1 >"$TMP/node.out" 2>&1 &
  PEER=$!
  wait_file "$TMP/gport"
  URL="grpc://127.0.0.1:$(cat "$TMP/gport")"
}

one() { # one MODE RUN
  local mode=$1 i=$2 rc=0
  case $mode in
    http_sink) start_sink http ;;
    grpc_sink) start_sink grpc ;;
    grpc_grpcjs) start_grpcjs ;;
  esac
  "$D" run shop --otlp "$URL" --speed max --duration "$DUR" --signals traces --on-full block \
    --summary-json "$TMP/run.json" -q >/dev/null
  if [ "$mode" = grpc_grpcjs ]; then kill -TERM "$PEER"; fi
  wait "$PEER" || rc=$?
  PEER=
  node -e '
    const [run, v, mode, i, rc] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(run)), w = JSON.parse(require("fs").readFileSync(v));
    const s = r.signals.spans;
    const got = w.received ? w.received.spans : w.counts.spans;
    console.log(JSON.stringify({bench: "otlp_grpc", mode, run: Number(i), spans: s.delivered,
      generated: s.generated, wall_seconds: r.wall_seconds,
      spans_per_s: Math.round(s.delivered / r.wall_seconds), requests: s.requests,
      bytes: s.bytes, peer_received: got, lost: w.lost === undefined ? s.delivered - got : w.lost,
      verdict: w.verdict || (got === s.delivered ? "pass" : "fail"), peer_exit: Number(rc)}));
  ' "$TMP/run.json" "$TMP/v.json" "$mode" "$i" "$rc" | tee -a "$TMP/lines"
}

for i in 1 2 3; do
  for mode in http_sink grpc_sink grpc_grpcjs; do one "$mode" "$i"; done
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const med = (m) => { const v = lines.filter((l) => l.mode === m).map((l) => l.spans_per_s).sort((a, b) => a - b); return v[1]; };
  const h = med("http_sink"), g = med("grpc_sink"), j = med("grpc_grpcjs");
  console.log(JSON.stringify({bench: "otlp_grpc_summary", median_spans_per_s: {http_sink: h,
    grpc_sink: g, grpc_grpcjs: j}, grpc_over_http: +(g / h).toFixed(3), goal: 0.8,
    all_pass: lines.every((l) => l.verdict === "pass" && l.lost === 0)}));
' "$TMP/lines"
