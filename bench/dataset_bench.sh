#!/usr/bin/env bash
# --dataset speed (issue 11: "a week of the fleet scenario in seconds"): a simulated week of
# `fleet` (20 hosts, full host metrics, 10 s interval) written as training data, once per
# format (both, csv, parquet), next to the same run to --null (generation + OTLP protobuf
# encoding, no output) in the same invocation, interleaved (FORMATS picks the dataset runs); median of REPS runs each of wall
# seconds and CPU seconds (user + system). Prints one JSON object with rows and file sizes.
# usage: bench/dataset_bench.sh [DIORAMA] [DURATION]   (default build/diorama, 7d; use Release)
set -euo pipefail
bin=${1:-build/diorama}
dur=${2:-7d}
reps=${REPS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A wall cpu
# one run: appends its wall and CPU seconds to wall[$1], cpu[$1]
one() {
  local name=$1
  shift
  rm -rf "$tmp/d"
  /usr/bin/time -o "$tmp/t" -f '%e %U %S' "$bin" run fleet --speed max --duration "$dur" \
    --seed 1 --start 2026-01-01T00:00:00Z -q "$@" >/dev/null 2>&1
  read -r w u s <"$tmp/t"
  wall[$name]+="$w "
  cpu[$name]+="$(printf "%.2f" "$(echo "$u + $s" | bc)") "
}
load0=$(cut -d' ' -f1 /proc/loadavg)
formats=${FORMATS:-both csv parquet} # FORMATS=both: only the run writing both files
for ((i = 0; i < reps; i++)); do
  for f in $formats; do
    [ "$f" = both ] && one both --dataset "$tmp/d" || one "$f" --dataset "$tmp/d" --dataset-format "$f"
    [ ! -e "$tmp/d/metrics.csv" ] || csv_bytes=$(stat -c %s "$tmp/d/metrics.csv")
    [ ! -e "$tmp/d/metrics.csv" ] || rows=$(($(wc -l <"$tmp/d/metrics.csv") - 1))
    [ ! -e "$tmp/d/metrics.parquet" ] || pq_bytes=$(stat -c %s "$tmp/d/metrics.parquet")
  done
  one null --null
done
m() { tr ' ' '\n' | grep . | median; }
printf '{"bench":"dataset","scenario":"fleet","duration":"%s","reps":%d,"rows":%d,' "$dur" "$reps" "$rows"
printf '"csv_bytes":%d,"parquet_bytes":%d,' "$csv_bytes" "$pq_bytes"
for k in $formats null; do
  printf '"%s_wall_s":%s,"%s_cpu_s":%s,' "$k" "$(m <<<"${wall[$k]}")" "$k" "$(m <<<"${cpu[$k]}")"
done
printf '"load_before":%s,"load_after":%s}\n' "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
