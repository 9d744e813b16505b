#!/usr/bin/env bash
# Remote write benchmarks (not a test: prints JSON lines, asserts nothing but zero loss).
#
#   bench/remote_write_bench.sh [BUILD_DIR]     (default: build; use a Release build)
#
# 1. encode: bench/remote_write_encode.c on one core: fleet-shaped points -> requests ->
#    protobuf -> snappy, samples per CPU second (goal >= 10,000,000), versions 1 and 2, at the
#    default 2000 samples per request and at 10000; median of 3 runs of 3 s.
# 2. VictoriaMetrics on this machine, in the same run, side by side:
#    - its own ingestion limit: one pre-encoded 1.0 request (~2000 samples, written by
#      remote_write_encode) replayed by h2load (HTTP/1.1, 2 connections) for 2000 requests;
#      samples/s = requests/s x samples per request (vmagent is not available here; the same
#      body again and again is a best case for VictoriaMetrics: its series are all cached);
#    - diorama delivering: `diorama run fleet --speed max --signals metrics` for 6 simulated
#      hours, --remote-write to it; delivered samples per wall second (the run includes
#      simulating the world), with 1 and 2 shards; every point must be delivered.
#    Each median of 3. Both share the machine's cores with VictoriaMetrics itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
D=$BUILD/diorama
VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}
TMP=$(mktemp -d)
VMPID=
trap '[ -n "$VMPID" ] && kill "$VMPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jget() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(eval(process.argv[1]))' "$1"; }

# 1. encoder
for v in 1 2; do
  for ms in 2000 10000; do
    rates=$(for _ in 1 2 3; do "$BUILD/remote_write_encode" 3 "$v" "$ms" | jget j.samples_per_s; done | median)
    bps=$("$BUILD/remote_write_encode" 0.5 "$v" "$ms" | jget j.bytes_per_sample)
    echo "{\"bench\":\"remote_write_encode\",\"version\":$v,\"max_samples\":$ms,\"samples_per_cpu_s\":$rates,\"bytes_per_sample\":$bps,\"goal\":10000000}"
  done
done

# 2. VictoriaMetrics
[ -x "$VM_BIN" ] || { echo '{"bench":"remote_write_vm","skipped":"victoria-metrics not installed"}'; exit 0; }
command -v h2load >/dev/null || { echo '{"bench":"remote_write_vm","skipped":"h2load not installed"}'; exit 0; }
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$VM_BIN" -storageDataPath "$TMP/vm" -httpListenAddr "127.0.0.1:$PORT" -retentionPeriod 100y \
  -loggerLevel ERROR >"$TMP/vm.log" 2>&1 &
VMPID=$!
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.05; done
URL=http://127.0.0.1:$PORT/api/v1/write

mkdir -p "$TMP/dump"
"$BUILD/remote_write_encode" 0.2 1 2000 "$TMP/dump" >/dev/null
per_req=$(cat "$TMP/dump/0000.samples")
vm_rates=$(for _ in 1 2 3; do
  h2load --h1 -n 2000 -c 2 -d "$TMP/dump/0000.snappy" -H 'content-encoding: snappy' \
    -H 'content-type: application/x-protobuf' -H 'x-prometheus-remote-write-version: 0.1.0' \
    "$URL" 2>&1 | awk -v s="$per_req" '/req\/s/ && /finished/ {for (i=1;i<=NF;i++) if ($i ~ /req\/s/) {gsub(",","",$(i-1)); print $(i-1)*s}}'
done | median)
echo "{\"bench\":\"victoria_metrics_ingest_limit\",\"tool\":\"h2load --h1 -c 2, one pre-encoded request replayed\",\"samples_per_request\":$per_req,\"samples_per_s\":$vm_rates}"

for shards in 1 2; do
  runs=""
  for _ in 1 2 3; do
    out=$("$D" run fleet --speed max --signals metrics --duration 6h --seed 9 -q \
      --remote-write "$URL" --remote-write-shards "$shards" --summary-json "$TMP/s.json")
    line=$(grep '^remote write:' <<<"$out")
    samples=$(grep -o '[0-9]* samples' <<<"$line" | head -1 | cut -d' ' -f1)
    wall=$(jget j.wall_seconds <"$TMP/s.json")
    lost=$(jget 'j.signals.metric_points.generated-j.signals.metric_points.delivered' <"$TMP/s.json")
    [ "$lost" = 0 ] || { echo "{\"error\":\"$lost points not delivered\"}"; exit 1; }
    runs="$runs $(awk -v s="$samples" -v w="$wall" 'BEGIN {printf "%.0f", s / w}')"
  done
  rate=$(tr ' ' '\n' <<<"$runs" | grep . | median)
  echo "{\"bench\":\"remote_write_to_victoria_metrics\",\"scenario\":\"fleet 6h --speed max\",\"shards\":$shards,\"samples_per_request\":2000,\"samples\":$samples,\"delivered_samples_per_wall_s\":$rate,\"victoria_metrics_limit_samples_per_s\":$vm_rates}"
done
