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
# 3. end to end against a minimal receiver, per protocol (OTLP/HTTP, OTLP/gRPC, remote write
#    2.0): the same `diorama run --speed max` into `diorama sink --expect` and into
#    count_receiver (bench/count_receiver.c: reads bodies, answers success, decodes nothing),
#    side by side, three times each; items delivered per wall second, CPU seconds of the run
#    and of the receiver per million items, the sink's verdict (no loss), and the medians'
#    ratio sink / minimal (goal >= 0.5).
#
#   E2E_ONLY=1 bench/sink_bench.sh BUILD   runs part 3 alone; E2E_DUR (default 1h) the length
#   of the OTLP runs, E2E_RW_DUR (default 24h) of the remote write runs (metrics only: fewer
#   items per simulated hour). Remote write has no sequence numbers for --expect to check: its
#   sink runs count instead (samples received = samples the run delivered, nothing invalid).
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

if [ -z "${E2E_ONLY:-}" ]; then
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
fi

# 3. end to end: the sink against a minimal counting receiver of the same protocol.
E2E_DUR=${E2E_DUR:-1h}
E2E_RW_DUR=${E2E_RW_DUR:-24h}
wait_file() { for _ in $(seq 400); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
run_args() { # run_args PROTO URL
  case $1 in
    otlp_http|otlp_grpc) echo "--otlp $2 --signals traces" ;;
    rw2) echo "--remote-write $2/api/v1/write --remote-write-version 2 --signals metrics" ;;
  esac
}
e2e_one() { # e2e_one PROTO RECEIVER RUN
  local proto=$1 recv=$2 i=$3 rc=0 url
  rm -f "$TMP/port" "$TMP/gport" "$TMP/run.json" "$TMP/v.json" "$TMP/recv.json" "$TMP/sink.time"
  local expect=(--expect "$TMP/run.json") dur=$E2E_DUR
  [ "$proto" = rw2 ] && expect=() && dur=$E2E_RW_DUR
  if [ "$recv" = sink ]; then
    /usr/bin/time -f '%U %S' -o "$TMP/sink.time" "$D" sink --listen 127.0.0.1:0 \
      --port-file "$TMP/port" --grpc-listen 127.0.0.1:0 --grpc-port-file "$TMP/gport" \
      "${expect[@]}" --json "$TMP/v.json" -q >"$TMP/sink.out" 2>&1 &
    SINK=$!
    wait_file "$TMP/gport"
    [ "$proto" = otlp_grpc ] && url="grpc://127.0.0.1:$(cat "$TMP/gport")" \
      || url="http://127.0.0.1:$(cat "$TMP/port")"
  else
    local kind=http
    [ "$proto" = otlp_grpc ] && kind=grpc
    "$BUILD/count_receiver" $kind "$TMP/port" >"$TMP/recv.json" 2>"$TMP/recv.err" &
    SINK=$!
    wait_file "$TMP/port"
    url="$( [ $kind = grpc ] && echo grpc || echo http )://127.0.0.1:$(cat "$TMP/port")"
  fi
  # shellcheck disable=SC2046
  /usr/bin/time -f '%U %S' -o "$TMP/run.time" "$D" run shop $(run_args "$proto" "$url") \
    --speed max --duration "$dur" --on-full block --summary-json "$TMP/run.json" -q \
    >/dev/null 2>"$TMP/run.err"
  if [ "$recv" = minimal ]; then kill -TERM "$SINK"; fi
  # the sink runs under /usr/bin/time: the signal goes to its child, the sink
  if [ "$recv" = sink ] && [ "$proto" = rw2 ]; then pkill -TERM -P "$SINK"; fi
  wait "$SINK" || rc=$?
  SINK=
  node -e '
    const fs = require("fs"), [tmp, proto, recv, i, rc] = process.argv.slice(1);
    const r = JSON.parse(fs.readFileSync(tmp + "/run.json"));
    const sig = proto === "rw2" ? "metrics" : "spans";
    const s = r.signals[sig] || r.signals.metric_points || r.signals.metrics;
    const cpu = (f) => fs.readFileSync(f, "utf8").trim().split("\n").pop().split(" ")
      .reduce((a, b) => a + Number(b), 0);
    let peer_cpu, verdict = "n/a", lost = 0;
    if (recv === "sink") {
      const v = JSON.parse(fs.readFileSync(tmp + "/v.json"));
      peer_cpu = cpu(tmp + "/sink.time"); verdict = v.verdict; lost = v.lost;
      if (proto === "rw2") {
        const sent = r.remote_write.samples_delivered;
        lost = sent - v.received.samples;
        verdict = lost === 0 && v.invalid.samples === 0 ? "pass" : "fail";
      }
    } else {
      peer_cpu = JSON.parse(fs.readFileSync(tmp + "/recv.json")).cpu_s;
    }
    // items: spans, or for remote write the samples (a histogram point is several)
    const items = proto === "rw2" ? r.remote_write.samples_delivered : s.delivered;
    const m = items / 1e6;
    console.log(JSON.stringify({bench: "sink_e2e", proto, receiver: recv, run: Number(i),
      items, points_generated: s.generated, wall_seconds: r.wall_seconds,
      items_per_s: Math.round(items / r.wall_seconds), requests: s.requests,
      run_cpu_s_per_m: +(cpu(tmp + "/run.time") / m).toFixed(2),
      receiver_cpu_s_per_m: +(peer_cpu / m).toFixed(2),
      balanced: s.generated === s.delivered + s.dropped + s.timed_out + (s.in_flight || 0),
      verdict, lost, receiver_exit: Number(rc)}));
  ' "$TMP" "$proto" "$recv" "$i" "$rc" | tee -a "$TMP/e2e"
}
: >"$TMP/e2e"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for i in 1 2 3; do
  for proto in otlp_http otlp_grpc rw2; do
    for recv in minimal sink; do e2e_one "$proto" "$recv" "$i"; done
  done
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const med = (p, r, k) => { const v = lines.filter((l) => l.proto === p && l.receiver === r)
    .map((l) => l[k]).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
  const out = {bench: "sink_e2e_summary", duration: process.argv[2], goal: 0.5};
  for (const p of ["otlp_http", "otlp_grpc", "rw2"]) {
    const m = med(p, "minimal", "items_per_s"), s = med(p, "sink", "items_per_s");
    out[p] = {minimal_items_per_s: m, sink_items_per_s: s, ratio: +(s / m).toFixed(3),
      sink_cpu_s_per_m: med(p, "sink", "receiver_cpu_s_per_m"),
      minimal_cpu_s_per_m: med(p, "minimal", "receiver_cpu_s_per_m")};
  }
  out.all_pass = lines.every((l) => l.balanced && (l.receiver !== "sink" ||
    (l.verdict === "pass" && l.lost === 0)));
  out.loadavg = {start: process.argv[3], end: process.argv[4]}; // 1, 5, 15 min: how shared the cores were
  console.log(JSON.stringify(out));
' "$TMP/e2e" "$E2E_DUR" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
