#!/usr/bin/env bash
# OTLP/gRPC vs OTLP/HTTP over loopback (not a test: prints JSON, asserts only zero loss).
#
#   bench/otlp_grpc_bench.sh [BUILD_DIR] [DURATION]     (default: build, 30m simulated)
#
# The same run (`diorama run shop --speed max --signals traces --on-full block`, the same
# records) three times each way, side by side in one invocation:
#   http_sink    --otlp http://...   -> diorama sink --listen        (the HTTP/1.1 listener)
#   grpc_sink    --otlp grpc://...   -> diorama sink --grpc-listen   (the h2 listener)
#   http_node    --otlp http://...   -> bench/node/otlp_http_count.js (node http, decodes, counts)
#   grpc_grpcjs  --otlp grpc://...   -> tests/node/otlp_grpc_server.js (@grpc/grpc-js, the same)
# Delivered spans per wall second of the run; CPU seconds per million spans of the run
# (/usr/bin/time) and of the receiver (/usr/bin/time for the sink, /proc/PID/stat for node,
# less its CPU at start-up);
# the medians, and gRPC / HTTP per receiver pair (goal >= 0.8), in spans/s and in CPU per
# span. The 1-minute load average after each run is in its line (the machine may be shared:
# the CPU figures are the ones to trust then). Each sink run must end with verdict pass
# (--expect): no loss, no duplicates; each node run with every span counted.
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
  /usr/bin/time -f '%U %S' -o "$TMP/sink.time" \
    "$D" sink --listen 127.0.0.1:0 --port-file "$TMP/port" --grpc-listen 127.0.0.1:0 \
    --grpc-port-file "$TMP/gport" --expect "$TMP/run.json" --json "$TMP/v.json" -q \
    >"$TMP/sink.out" 2>&1 &
  PEER=$!
  wait_file "$TMP/gport"
  if [ "$1" = http ]; then URL="http://127.0.0.1:$(cat "$TMP/port")"; else URL="grpc://127.0.0.1:$(cat "$TMP/gport")"; fi
}

start_node() { # start_node http|grpc
  rm -f "$TMP/gport" "$TMP/run.json" "$TMP/v.json"
  if [ "$1" = grpc ]; then
    node "$ROOT/tests/node/otlp_grpc_server.js" --port-file "$TMP/gport" --out "$TMP/v.json" \
      --fast 1 >"$TMP/node.out" 2>&1 &
  else
    node "$ROOT/bench/node/otlp_http_count.js" --port-file "$TMP/gport" --out "$TMP/v.json" \
      >"$TMP/node.out" 2>&1 &
  fi
  PEER=$!
  wait_file "$TMP/gport"
  PEER_CPU0=$(proc_cpu "$PEER") # node's start-up (module loading) is not the receiver's cost
  URL="$1://127.0.0.1:$(cat "$TMP/gport")"
}

proc_cpu() { # CPU seconds of a live process (user + system)
  awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"
}

one() { # one MODE RUN
  local mode=$1 i=$2 rc=0 peer_cpu=
  rm -f "$TMP/sink.time"
  case $mode in
    http_sink) start_sink http ;;
    grpc_sink) start_sink grpc ;;
    http_node) start_node http ;;
    grpc_grpcjs) start_node grpc ;;
  esac
  /usr/bin/time -f '%U %S' -o "$TMP/run.time" "$D" run shop --otlp "$URL" --speed max \
    --duration "$DUR" --signals traces --on-full block --summary-json "$TMP/run.json" -q \
    >/dev/null
  case $mode in
    *_sink) ;;
    *) peer_cpu=$(awk -v a="$(proc_cpu "$PEER")" -v b="$PEER_CPU0" 'BEGIN { print a - b }')
       kill -TERM "$PEER" ;;
  esac
  wait "$PEER" || rc=$?
  PEER=
  [ -z "$peer_cpu" ] && peer_cpu=$(tail -n 1 "$TMP/sink.time" | awk '{ print $1 + $2 }')
  node -e '
    const fs = require("fs"), [run, v, mode, i, rc, rt, pc] = process.argv.slice(1);
    const r = JSON.parse(fs.readFileSync(run)), w = JSON.parse(fs.readFileSync(v));
    const load1 = Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
    const s = r.signals.spans, m = s.delivered / 1e6;
    const run_cpu = fs.readFileSync(rt, "utf8").trim().split("\n").pop().split(" ")
      .reduce((a, b) => a + Number(b), 0);
    const got = w.received ? w.received.spans : w.counts.spans;
    console.log(JSON.stringify({bench: "otlp_grpc", mode, run: Number(i), spans: s.delivered,
      generated: s.generated, wall_seconds: r.wall_seconds,
      spans_per_s: Math.round(s.delivered / r.wall_seconds), requests: s.requests,
      bytes: s.bytes, run_cpu_s_per_m: +(run_cpu / m).toFixed(2),
      receiver_cpu_s_per_m: +(Number(pc) / m).toFixed(2), peer_received: got,
      lost: w.lost === undefined ? s.delivered - got : w.lost,
      verdict: w.verdict || (got === s.delivered ? "pass" : "fail"), peer_exit: Number(rc),
      load1}));
  ' "$TMP/run.json" "$TMP/v.json" "$mode" "$i" "$rc" "$TMP/run.time" "$peer_cpu" \
    | tee -a "$TMP/lines"
}

for i in 1 2 3; do
  for mode in http_sink grpc_sink http_node grpc_grpcjs; do one "$mode" "$i"; done
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const med = (m, k) => { const v = lines.filter((l) => l.mode === m).map((l) => l[k]).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
  const modes = ["http_sink", "grpc_sink", "http_node", "grpc_grpcjs"], o = (k) =>
    Object.fromEntries(modes.map((m) => [m, med(m, k)]));
  const sp = o("spans_per_s"), rc = o("run_cpu_s_per_m"), pc = o("receiver_cpu_s_per_m");
  const loads = lines.map((l) => l.load1);
  console.log(JSON.stringify({bench: "otlp_grpc_summary", median_spans_per_s: sp,
    median_run_cpu_s_per_m: rc, median_receiver_cpu_s_per_m: pc,
    grpc_over_http: +(sp.grpc_sink / sp.http_sink).toFixed(3),
    grpcjs_over_node_http: +(sp.grpc_grpcjs / sp.http_node).toFixed(3), goal: 0.8,
    cpu_per_span_grpcjs_over_node_http: {run: +(rc.grpc_grpcjs / rc.http_node).toFixed(3),
      receiver: +(pc.grpc_grpcjs / pc.http_node).toFixed(3)},
    load1: {min: Math.min(...loads), max: Math.max(...loads)},
    all_pass: lines.every((l) => l.verdict === "pass" && l.lost === 0)}));
' "$TMP/lines"
