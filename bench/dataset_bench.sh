#!/usr/bin/env bash
# --dataset speed: a simulated week of `fleet` (20 hosts, 10 s interval) written as training
# data (CSV + Parquet), next to the same run to --null (generation + OTLP encoding only) in the
# same invocation; median wall seconds of 3 runs each. Prints one JSON object.
# usage: bench/dataset_bench.sh [DIORAMA] [DURATION]   (default build/diorama, 7d)
set -euo pipefail
bin=${1:-build/diorama}
dur=${2:-7d}
reps=${REPS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ds=() nl=()
for ((i = 0; i < reps; i++)); do
  rm -rf "$tmp/d"
  ds+=("$(secs "$bin" run fleet --speed max --duration "$dur" --dataset "$tmp/d" -q)")
  nl+=("$(secs "$bin" run fleet --speed max --duration "$dur" --null -q)")
done
rows=$(($(wc -l <"$tmp/d/metrics.csv") - 1))
printf '{"scenario":"fleet","duration":"%s","reps":%d,"dataset_wall_s":%.2f,"null_wall_s":%.2f,' \
  "$dur" "$reps" "$(printf '%s\n' "${ds[@]}" | median)" "$(printf '%s\n' "${nl[@]}" | median)"
printf '"rows":%d,"csv_bytes":%d,"parquet_bytes":%d}\n' "$rows" \
  "$(stat -c %s "$tmp/d/metrics.csv")" "$(stat -c %s "$tmp/d/metrics.parquet")"
