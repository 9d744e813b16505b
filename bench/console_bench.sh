#!/usr/bin/env bash
# The web console under load and diorama up's memory. Prints one JSON object.
#
#   console_200   bench/data/console_200.yaml (200 hosts, faults and state changes every few
#                 seconds) in `diorama up`, the console open in headless Chromium for SECONDS
#                 while a script selects hosts and scrolls: the longest main-thread task of a
#                 Chromium performance trace and the longest animation frame (goal: none over
#                 50 ms), median of ROUNDS rounds (bench/console_trace.js)
#   console_20    the same, side by side in the same run, on the 20-host fleet
#                 Each also gives the longest task in thread CPU time and the most CPU time
#                 the console's own scripts took in one task (js_max_ms): a task long in wall
#                 time but short in CPU time waited for a busy machine, not for our code
#   rss           `diorama up` of every built-in scenario: VmRSS after SETTLE seconds and the
#                 peak (VmHWM), in MiB (goal: under 64 MiB)
#
# usage: bench/console_bench.sh [--seconds N] [--rounds N] [--settle N] [--only console|rss]
#        (BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
D=$BUILD/diorama
SECS=20 ROUNDS=3 SETTLE=10 ONLY=all
while [ $# -gt 0 ]; do
  case $1 in --seconds) SECS=$2; shift ;; --rounds) ROUNDS=$2; shift ;; --settle) SETTLE=$2; shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
export NODE_PATH=$PWD/tests/node/node_modules
TMP=$(mktemp -d)
UP=""
trap '[ -n "$UP" ] && kill $UP 2>/dev/null; rm -rf "$TMP"' EXIT

serve=()
"$D" run --help | grep -q -- '--serve' && serve=(--serve 127.0.0.1:0)
up() { # up SCENARIO : starts diorama up, sets UP (pid) and URL (the console)
  "$D" up "$1" --control 127.0.0.1:0 --prom-listen 127.0.0.1:0 "${serve[@]}" >/dev/null 2>"$TMP/up.err" &
  UP=$!
  URL=""
  for _ in $(seq 1 100); do
    URL=$(sed -n 's#^console: \(http://.*/\)$#\1#p' "$TMP/up.err")
    [ -n "$URL" ] && return 0
    sleep 0.1
  done
  echo "diorama up $1 did not start: $(cat "$TMP/up.err")" >&2
  exit 1
}
down() { kill -TERM "$UP"; wait "$UP" || true; UP=""; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jf() { node -e 'const j=JSON.parse(process.argv[1]);console.log(j[process.argv[2]])' "$1" "$2"; }

trace() { # trace SCENARIO NAME : JSON of the medians over ROUNDS
  local runs=()
  for _ in $(seq 1 "$ROUNDS"); do
    up "$1"
    runs+=("$(node bench/console_trace.js "$URL" "$SECS")") || { echo "console_trace.js failed" >&2; exit 1; }
    down
  done
  local out="" k
  for k in longest_task_ms tasks_over_50ms longest_task_cpu_ms tasks_over_50ms_cpu js_max_ms js_p99_ms \
    longest_frame_ms frames_over_50ms; do
    out+="\"$k\":$(for r in "${runs[@]}"; do jf "$r" "$k"; done | median),"
  done
  printf '"%s":{"hosts":%s,"seconds":%s,"rounds":%s,%s"runs":[%s]}' \
    "$2" "$(jf "${runs[0]}" hosts)" "$SECS" "$ROUNDS" "$out" "$(IFS=,; echo "${runs[*]}")"
}

rss() { # JSON: per built-in scenario {rss_mib, peak_mib}
  local first=1
  printf '"rss":{'
  for s in $("$D" scenarios list | awk 'NF {print $1}'); do
    up "$s"
    sleep "$SETTLE"
    local now peak
    now=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$UP/status")
    peak=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$UP/status")
    down
    [ $first = 1 ] || printf ','
    first=0
    printf '"%s":{"rss_mib":%s,"peak_mib":%s}' "$s" "$now" "$peak"
  done
  printf '}'
}

case $ONLY in
  console) printf '{"bench":"console",%s,%s}\n' "$(trace bench/data/console_200.yaml console_200)" "$(trace fleet console_20)" ;;
  rss) printf '{"bench":"console",%s}\n' "$(rss)" ;;
  *) printf '{"bench":"console",%s,%s,%s}\n' "$(trace bench/data/console_200.yaml console_200)" \
    "$(trace fleet console_20)" "$(rss)" ;;
esac
