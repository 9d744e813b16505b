#!/usr/bin/env bash
# Remote write benchmarks (not a test: prints JSON lines, asserts nothing but zero loss).
#
#   bench/remote_write_bench.sh [BUILD_DIR]     (default: build; use a Release build)
#
# 1. encode: bench/remote_write_encode.c on one core: fleet-shaped points -> requests ->
#    protobuf -> snappy, samples per CPU second (goal >= 10,000,000), versions 1 and 2, at the
#    default 2000 samples per request and at 10000; median of 3 runs of 3 s.
# 2. VictoriaMetrics on this machine, in the same run, side by side (bench/vm_lib.sh):
#    - its own ingestion limit: the request bodies of the very run below (fleet, 1 h simulated,
#      VM_DUR), recorded once, posted by curl 4 in parallel into a fresh VictoriaMetrics;
#    - diorama delivering the same run (`diorama run fleet --speed max --signals metrics`,
#      --remote-write) into a fresh VictoriaMetrics with 1, 2 and 4 shards: delivered samples
#      per wall second (the run includes simulating the world), and the CPU seconds of
#      diorama and of VictoriaMetrics in that run (where the 2 cores went); every point must
#      be delivered.
#    Each median of 3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
D=$BUILD/diorama
VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
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
. "$ROOT/bench/vm_lib.sh"
trap 'vm_stop; rm -rf "$TMP"' EXIT
START=$(($(date +%s) / 3600 * 3600 - 2 * 86400))
RUN=(fleet --speed max --signals metrics --duration "${VM_DUR:-1h}" --start "$START" --seed 9)
rw_record "${RUN[@]}" # the same data as every run below, as diorama sends it
vm_rates="" vm_cpu=""
declare -A rates dcpu vcpu
for _ in 1 2 3; do
  vm_start "$TMP/vm"
  c0=$(cpu_s "$VMPID")
  w=$(rw_replay "$VMURL/api/v1/write" 4)
  vm_cpu="$vm_cpu $(echo "$(cpu_s "$VMPID") - $c0" | bc)"
  vm_stop
  vm_rates="$vm_rates $w"
  for shards in 1 2 4; do
    vm_start "$TMP/vm"
    c0=$(cpu_s "$VMPID")
    /usr/bin/time -o "$TMP/time" -f '%e %U %S' "$D" run "${RUN[@]}" -q --remote-write \
      "$VMURL/api/v1/write" --remote-write-shards "$shards" --shutdown-timeout 300s \
      --summary-json "$TMP/s.json" >/dev/null
    vcpu[$shards]="${vcpu[$shards]:-} $(echo "$(cpu_s "$VMPID") - $c0" | bc)"
    vm_stop
    read -r wall u s <"$TMP/time"
    samples=$(jget "$TMP/s.json" j.remote_write.samples_delivered)
    lost=$(jget "$TMP/s.json" 'j.signals.metric_points.generated-j.signals.metric_points.delivered')
    [ "$lost" = 0 ] || { echo "{\"error\":\"$lost points not delivered\"}"; exit 1; }
    rates[$shards]="${rates[$shards]:-} $(echo "$samples / $wall" | bc)"
    dcpu[$shards]="${dcpu[$shards]:-} $(echo "$u + $s" | bc)"
  done
done
vm_rate=$(for w in $vm_rates; do echo "$samples / $w" | bc; done | median)
echo "{\"bench\":\"victoria_metrics_ingest_limit\",\"tool\":\"curl, 4 in parallel, the recorded bodies of the same run into a fresh VictoriaMetrics\",\"samples\":$samples,\"samples_per_s\":$vm_rate,\"victoria_metrics_cpu_s\":$(median <<<"$vm_cpu")}"
for shards in 1 2 4; do
  echo "{\"bench\":\"remote_write_to_victoria_metrics\",\"scenario\":\"fleet ${VM_DUR:-1h} --speed max\",\"shards\":$shards,\"samples\":$samples,\"delivered_samples_per_wall_s\":$(median <<<"${rates[$shards]}"),\"diorama_cpu_s\":$(median <<<"${dcpu[$shards]}"),\"victoria_metrics_cpu_s\":$(median <<<"${vcpu[$shards]}"),\"victoria_metrics_limit_samples_per_s\":$vm_rate,\"load\":$(cut -d' ' -f1 /proc/loadavg)}"
done
