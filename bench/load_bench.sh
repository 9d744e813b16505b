#!/usr/bin/env bash
# diorama load vs wrk, side by side on the same nginx in the same run (this machine is noisy:
# only same-run comparisons mean anything; rounds alternate the two tools and the median is
# reported). Prints one JSON object.
#
#   closed_loop   max requests/s: `diorama load --rate max -c 50 -t 1` vs `wrk -t1 -c50`
#   open_loop_50k --rate 50000, -t 1 pinned to core 0 and -t 2 unpinned: achieved rate, late,
#                 dropped, scheduler jitter (handed to a connection minus intended time, for
#                 requests that found one), send delay (first byte written minus intended, all
#                 requests) and connection waits (all -c connections busy: nginx stalled)
#   memory        RSS of a 20 s open-loop run at 10,000/s sampled at 3 s and at 18 s
#
# nginx runs on core 1, the load generators on core 0 (taskset), 1 nginx worker.
# usage: bench/load_bench.sh [--seconds N] [--rounds N]   (BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/http_lib.sh
start_nginx
U=http://127.0.0.1:$NPORT/

# 1. closed loop, alternating rounds
d_all="" w_all=""
for r in $(seq "$ROUNDS"); do
  taskset -c 0 "$D" load "$U" --rate max -c 50 -t 1 -d "$SECS" -X GET -q --json "$TMP/max.json" >/dev/null
  d_all="$d_all $(jget "$TMP/max.json" 'Math.round(j.achieved_rate)')"
  w=$(taskset -c 0 wrk -t1 -c50 -d"${SECS}s" "$U" | awk '/Requests\/sec/ {print int($2)}')
  w_all="$w_all $w"
done
d_med=$(echo "$d_all" | median)
w_med=$(echo "$w_all" | median)

# 2. open loop at 50,000/s: one thread on core 0 (nginx has core 1), and two unpinned threads
open_loop() { # open_loop NAME PIN_PREFIX... -- DIORAMA_ARGS...
  local name=$1; shift
  local pin=()
  while [ "$1" != -- ]; do pin+=("$1"); shift; done
  shift
  "${pin[@]}" "$D" load "$U" --rate 50000 -d "$SECS" -X GET -q -v --json "$TMP/$name.json" "$@" \
    >/dev/null 2>"$TMP/$name.err"
  local f=$TMP/$name.json
  echo "\"$name\": {\"achieved_rps\": $(jget "$f" 'j.achieved_rate.toFixed(1)'),
    \"requests\": $(jget "$f" j.requests), \"expected\": $((50000 * SECS)),
    \"late\": $(jget "$f" j.late), \"dropped\": $(jget "$f" j.dropped),
    \"latency_p99_us\": $(jget "$f" j.latency_us.p99),
    \"scheduler_jitter_us\": $(jget "$f" 'JSON.stringify(j.scheduler_jitter_us)'),
    \"send_delay_us\": $(jget "$f" 'JSON.stringify(j.send_delay_us)'),
    \"connection_waits\": $(jget "$f" j.connection_waits), \"max_connections\": $(sed -n 's/.*connections opened at most \([0-9]*\).*/\1/p' "$TMP/$name.err")}"
}
ol1=$(open_loop t1_core0 taskset -c 0 -- -t 1)
ol2=$(open_loop t2_unpinned env -- -t 2)

# 3. memory: RSS early and late in a longer run
taskset -c 0 "$D" load "$U" --rate 10000 -t 2 -d 20 -X GET -q >/dev/null 2>&1 &
LP=$!
sleep 3
rss_3=$(awk '/VmRSS/ {print $2}' "/proc/$LP/status")
sleep 15
rss_18=$(awk '/VmRSS/ {print $2}' "/proc/$LP/status")
wait $LP || true

cat <<JSON
{"closed_loop": {"diorama_rps": $d_med, "wrk_rps": $w_med, "ratio": $(node -e "console.log(($d_med/$w_med).toFixed(3))"),
                 "diorama_rounds": [$(echo $d_all | tr ' ' ',')], "wrk_rounds": [$(echo $w_all | tr ' ' ',')],
                 "connections": 50, "threads": 1, "seconds": $SECS},
 "open_loop_50k": {$ol1,
   $ol2},
 "memory_kib": {"rss_at_3s": $rss_3, "rss_at_18s": $rss_18}}
JSON
