#!/usr/bin/env bash
# Backfill benchmark (issue 11): a simulated week of `fleet` (20 hosts, full host metrics,
# 10 s interval) into VictoriaMetrics over remote write with --speed max and --start a week
# back, next to VictoriaMetrics' own ingestion limit measured in the same invocation: the
# first REPLAY_H hours' request bodies as diorama sent them (same samples per request),
# recorded, then posted by curl (REPLAY_PAR in parallel) into a fresh VictoriaMetrics. Prints
# one JSON object:
#   wall_s, samples_delivered, diorama_cpu_s, victoria_metrics_cpu_s   diorama -> VM
#   first_hour_samples, last_hour_samples                                queried back
#   vm_replay: {samples, wall_s, samples_per_s, cpu_s, all_samples_at_this_rate_s}
#   ratio_wall_to_vm_limit   wall_s / all samples at VM's replay rate (1.0: VM is the limit)
#   load_before, load_after  /proc/loadavg (1 min) around the whole bench
# Not a test: it asserts only that nothing was lost.
#   bench/remote_write_week.sh [BUILD_DIR] [DURATION]   (default build, 7d; use a Release build)
# env: SHARDS (requests in flight, default 2), MAX_SAMPLES (per request, default diorama's),
#      REPLAY_H (default 6), REPLAY_PAR (default 4)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
DUR=${2:-7d}
D=$BUILD/diorama
SHARDS=${SHARDS:-2}
REPLAY_H=${REPLAY_H:-6}
REPLAY_PAR=${REPLAY_PAR:-4}
MAX_SAMPLES=${MAX_SAMPLES:-}
tune=(--remote-write-shards "$SHARDS")
[ -z "$MAX_SAMPLES" ] || tune+=(--remote-write-max-samples "$MAX_SAMPLES")
TMP=$(mktemp -d)
. "$ROOT/bench/vm_lib.sh"
trap 'vm_stop; rm -rf "$TMP"' EXIT
[ -x "$VM_BIN" ] || { echo '{"bench":"remote_write_week","skipped":"victoria-metrics not installed"}'; exit 0; }
secs=$(node -e 'const m={s:1,m:60,h:3600,d:86400};const d=process.argv[1];console.log(parseInt(d)*m[d.slice(-1)])' "$DUR")
START=$(($(date +%s) / 3600 * 3600 - secs))
load0=$(cut -d' ' -f1 /proc/loadavg)

vm_start "$TMP/vm"
c0=$(cpu_s "$VMPID")
/usr/bin/time -o "$TMP/time" -f '%e %U %S' "$D" run fleet --speed max --signals metrics \
  --duration "$DUR" --start "$START" --seed 9 -q --remote-write "$VMURL/api/v1/write" \
  "${tune[@]}" --shutdown-timeout 600s --summary-json "$TMP/s.json" >/dev/null
c1=$(cpu_s "$VMPID")
read -r wall u s <"$TMP/time"
samples=$(jget "$TMP/s.json" j.remote_write.samples_delivered)
lost=$(jget "$TMP/s.json" 'j.signals.metric_points.generated-j.signals.metric_points.delivered')
[ "$lost" = 0 ] || { echo "{\"error\":\"$lost points not delivered\"}"; exit 1; }
curl -sf "$VMURL/internal/force_flush" >/dev/null || true
sleep 2
q() { # samples in the hour ending at $1
  curl -sS "$VMURL/api/v1/query" --data-urlencode 'query=sum(count_over_time({__name__!=""}[1h]))' \
    --data-urlencode "time=$1" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const r=JSON.parse(d).data.result;console.log(r.length?r[0].value[1]:0)})'
}
first=$(q $((START + 3600)))
last=$(q $((START + secs)))
vm_stop
cpu_d=$(echo "$u + $s" | bc) cpu_vm=$(echo "$c1 - $c0" | bc)

# VictoriaMetrics' own ingestion of the same bodies (the first REPLAY_H hours of the same run,
# the same samples per request).
rw_record fleet --speed max --signals metrics --duration "${REPLAY_H}h" --start "$START" --seed 9 \
  --summary-json "$TMP/r.json" ${MAX_SAMPLES:+--remote-write-max-samples "$MAX_SAMPLES"}
rsamples=$(jget "$TMP/r.json" j.remote_write.samples_delivered)
vm_start "$TMP/vmr"
c0=$(cpu_s "$VMPID")
rwall=$(rw_replay "$VMURL/api/v1/write" "$REPLAY_PAR")
c1=$(cpu_s "$VMPID")
vm_stop
rate=$(echo "$rsamples / $rwall" | bc)
vmweek=$(echo "$samples / $rate" | bc -l)
printf '{"bench":"remote_write_week","scenario":"fleet","duration":"%s","shards":%s,"max_samples":"%s",' \
  "$DUR" "$SHARDS" "${MAX_SAMPLES:-default}"
printf '"wall_s":%s,"goal_wall_s":60,"samples_delivered":%s,"samples_per_wall_s":%s,' \
  "$wall" "$samples" "$(echo "$samples / $wall" | bc)"
printf '"diorama_cpu_s":%s,"victoria_metrics_cpu_s":%s,"first_hour_samples":%s,"last_hour_samples":%s,' \
  "$cpu_d" "$cpu_vm" "$first" "$last"
printf '"vm_replay":{"hours":%s,"parallel":%s,"requests":%s,"samples":%s,"wall_s":%.2f,"samples_per_s":%s,"cpu_s":%s,"all_samples_at_this_rate_s":%.1f},' \
  "$REPLAY_H" "$REPLAY_PAR" "$(ls "$TMP"/rec/*-v1.snappy | wc -l)" "$rsamples" "$rwall" "$rate" \
  "$(echo "$c1 - $c0" | bc)" "$vmweek"
printf '"ratio_wall_to_vm_limit":%.2f,"load_before":%s,"load_after":%s}\n' \
  "$(echo "$wall / $vmweek" | bc -l)" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
