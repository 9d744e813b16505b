#!/usr/bin/env bash
# Backfill benchmark (issue 11): a simulated week of `fleet` (20 hosts, full host metrics,
# 10 s interval) into VictoriaMetrics over remote write with --speed max and --start a week
# back. Prints JSON lines:
#   remote_write_week         wall seconds (goal < 60), samples delivered, CPU seconds of
#                             diorama and of VictoriaMetrics in the same run, and the samples
#                             VictoriaMetrics holds in the first and the last hour (queried back)
#   victoria_metrics_replay   VictoriaMetrics' own ingestion of the same data in the same
#                             invocation: the first REPLAY_H hours' request bodies as diorama sent
#                             them, recorded, then posted by curl (4 in parallel) into a fresh
#                             VictoriaMetrics; samples/s, and the week at that rate
# Not a test: it asserts only that nothing was lost.
#   bench/remote_write_week.sh [BUILD_DIR] [DURATION]   (default build, 7d; use a Release build)
# env: SHARDS (default 2), REPLAY_H (default 6)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
DUR=${2:-7d}
D=$BUILD/diorama
SHARDS=${SHARDS:-2}
REPLAY_H=${REPLAY_H:-6}
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
  --remote-write-shards "$SHARDS" --shutdown-timeout 600s --summary-json "$TMP/s.json" >/dev/null
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
echo "{\"bench\":\"remote_write_week\",\"scenario\":\"fleet\",\"duration\":\"$DUR\",\"shards\":$SHARDS,\"wall_s\":$wall,\"goal_wall_s\":60,\"samples_delivered\":$samples,\"samples_per_wall_s\":$(echo "$samples / $wall" | bc),\"diorama_cpu_s\":$(echo "$u + $s" | bc),\"victoria_metrics_cpu_s\":$(echo "$c1 - $c0" | bc),\"first_hour_samples\":$first,\"last_hour_samples\":$last,\"samples_per_hour\":$(echo "$samples * 3600 / $secs" | bc),\"load_before\":$load0,\"load_after\":$(cut -d' ' -f1 /proc/loadavg)}"

# VictoriaMetrics' own ingestion of the same bodies (the first REPLAY_H hours of the same run).
rw_record fleet --speed max --signals metrics --duration "${REPLAY_H}h" --start "$START" --seed 9 \
  --summary-json "$TMP/r.json"
rsamples=$(jget "$TMP/r.json" j.remote_write.samples_delivered)
vm_start "$TMP/vmr"
c0=$(cpu_s "$VMPID")
rwall=$(rw_replay "$VMURL/api/v1/write" 4)
c1=$(cpu_s "$VMPID")
vm_stop
rate=$(echo "$rsamples / $rwall" | bc)
echo "{\"bench\":\"victoria_metrics_replay\",\"what\":\"the first ${REPLAY_H}h of the same data, recorded bodies posted by curl 4 in parallel into a fresh VictoriaMetrics\",\"requests\":$(ls "$TMP"/rec/*-v1.snappy | wc -l),\"samples\":$rsamples,\"wall_s\":$rwall,\"samples_per_s\":$rate,\"victoria_metrics_cpu_s\":$(echo "$c1 - $c0" | bc),\"week_at_this_rate_s\":$(echo "$samples / $rate" | bc)}"
