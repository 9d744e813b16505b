#!/usr/bin/env bash
# Fleet benchmarks (issue 9), one JSON object on stdout. Each figure is the median of 3 runs,
# on one core (taskset -c 0), --speed max to --null (generation + OTLP protobuf encoding), by
# wall time and by CPU time (user + sys: what the figure would be on an otherwise idle core;
# on a loaded machine wall time mostly measures the other processes).
#
#   fleet_points_per_s   bench/fleet1000.yaml: 1,000 hosts (web, db, cache, queue, ML) of full
#                        host metrics at a 10 s interval; metric points generated and encoded
#                        per wall second over 1 simulated hour (goal >= 10 M)
#   fleet_day_wall_s     the same fleet over a simulated day: wall seconds (goal < 60)
#   inference_spans_per_s  `inference` spans per second, this build and BASE side by side in
#                        the same run, runs alternating (goal: within 10% of BASE)
#   *_base               with BASE set, the same fleet figures of BASE, runs alternating with
#                        this build's (on a loaded machine only same-run ratios mean anything)
#   rss_kib              RSS of a real-time `fleet` run to --null sampled every 10 s: first,
#                        last, max (--rss-minutes M, default 10; 0 skips)
#
# usage: bench/fleet_bench.sh [--rss-minutes M]    BUILD=build-rel (this build's dir),
#        BASE=path/to/old/diorama (optional: e.g. a build of `git worktree add /tmp/wt-base HEAD`)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
D=$BUILD/diorama
BASE=${BASE:-}
RSS_MIN=10
while [ $# -gt 0 ]; do
  case $1 in --rss-minutes) RSS_MIN=$2; shift ;; *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
jget() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(eval(process.argv[2]))' "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
one() { # one BIN NAME ARGS... : run pinned to core 0, summary in $TMP/NAME.json, CPU seconds
  local bin=$1 name=$2 #  (user + sys) in $TMP/NAME.cpu: on a shared machine wall time is noise
  shift 2
  /usr/bin/time -f '%U %S' -o "$TMP/$name.time" taskset -c 0 "$bin" run "$@" --speed max --null \
    -q --summary-json "$TMP/$name.json" >/dev/null
  awk '{print $1 + $2}' "$TMP/$name.time" >"$TMP/$name.cpu"
}
per_cpu() { jget "$TMP/$1.json" "Math.round($2 / $(cat "$TMP/$1.cpu"))"; }

fleet_pts() { # BIN: one 1 h run; appends to pts, ptsc (or their _b twins for BASE)
  one "$1" pts bench/fleet1000.yaml --duration 1h --signals metrics
  local w c
  w=$(jget "$TMP/pts.json" 'Math.round(j.signals.metric_points.generated / j.wall_seconds)')
  c=$(per_cpu pts j.signals.metric_points.generated)
  if [ "$1" = "$D" ]; then pts+=("$w") ptsc+=("$c"); else pts_b+=("$w") ptsc_b+=("$c"); fi
  pts_n=$(jget "$TMP/pts.json" 'j.signals.metric_points.generated')
}
fleet_day() { # BIN: one 24 h run; appends to day, dayc (or day_b, dayc_b)
  one "$1" day bench/fleet1000.yaml --duration 24h --signals metrics
  local w c
  w=$(jget "$TMP/day.json" 'j.wall_seconds.toFixed(2)')
  c=$(cat "$TMP/day.cpu")
  if [ "$1" = "$D" ]; then day+=("$w") dayc+=("$c"); else day_b+=("$w") dayc_b+=("$c"); fi
  day_n=$(jget "$TMP/day.json" 'j.signals.metric_points.generated')
}
pts=() day=() ptsc=() dayc=() pts_n=0 pts_b=() ptsc_b=() day_b=() dayc_b=()
for i in 1 2 3; do
  fleet_pts "$D"
  if [ -n "$BASE" ]; then fleet_pts "$BASE"; fi
done
for i in 1 2 3; do
  fleet_day "$D"
  if [ -n "$BASE" ]; then fleet_day "$BASE"; fi
done
fleet_base=null
if [ -n "$BASE" ]; then
  fleet_base="{\"points_per_s\": $(median "${pts_b[@]}"), \"points_per_cpu_s\": $(median "${ptsc_b[@]}"), \"day_wall_s\": $(median "${day_b[@]}"), \"day_cpu_s\": $(median "${dayc_b[@]}"), \"day_cpu_runs\": [$(IFS=,; echo "${dayc_b[*]}")]}"
fi

new=() old=() newc=() oldc=()
for i in 1 2 3; do
  one "$D" inf inference --duration 30m --signals traces
  new+=("$(jget "$TMP/inf.json" 'Math.round(j.signals.spans.generated / j.wall_seconds)')")
  newc+=("$(per_cpu inf j.signals.spans.generated)")
  if [ -n "$BASE" ]; then
    one "$BASE" inf_base inference --duration 30m --signals traces
    old+=("$(jget "$TMP/inf_base.json" 'Math.round(j.signals.spans.generated / j.wall_seconds)')")
    oldc+=("$(per_cpu inf_base j.signals.spans.generated)")
  fi
done
inf_new=$(median "${new[@]}")
inf_newc=$(median "${newc[@]}")
inf_old=null ratio=null inf_oldc=null ratioc=null
if [ -n "$BASE" ]; then
  inf_old=$(median "${old[@]}")
  ratio=$(node -e "console.log(($inf_new / $inf_old).toFixed(3))")
  inf_oldc=$(median "${oldc[@]}")
  ratioc=$(node -e "console.log(($inf_newc / $inf_oldc).toFixed(3))")
fi

rss=null
if [ "$RSS_MIN" -gt 0 ]; then
  "$D" run fleet --null -q --duration "$((RSS_MIN * 60 + 5))s" >/dev/null 2>&1 &
  pid=$!
  samples=()
  for ((s = 0; s <= RSS_MIN * 6; s++)); do
    sleep 10
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    samples+=("$r")
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  max=$(printf '%s\n' "${samples[@]}" | sort -g | tail -1)
  rss="{\"minutes\": $RSS_MIN, \"samples\": ${#samples[@]}, \"first\": ${samples[0]}, \"last\": ${samples[-1]}, \"max\": $max}"
fi

cat <<JSON
{
  "fleet_points_per_s": {"median": $(median "${pts[@]}"), "per_cpu_s": $(median "${ptsc[@]}"), "runs": [$(IFS=,; echo "${pts[*]}")], "points": $pts_n, "goal": 10000000},
  "fleet_day_wall_s": {"median": $(median "${day[@]}"), "cpu_s": $(median "${dayc[@]}"), "runs": [$(IFS=,; echo "${day[*]}")], "cpu_runs": [$(IFS=,; echo "${dayc[*]}")], "points": $day_n, "goal": 60},
  "fleet_base": $fleet_base,
  "inference_spans_per_s": {"this": $inf_new, "base": $inf_old, "ratio": $ratio, "per_cpu_s_this": $inf_newc, "per_cpu_s_base": $inf_oldc, "ratio_cpu": $ratioc, "runs_this": [$(IFS=,; echo "${new[*]}")], "runs_base": [$(IFS=,; echo "${old[*]-}")]},
  "load_average": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "rss_kib": $rss
}
JSON
