#!/usr/bin/env bash
# InfluxDB line protocol and OpenMetrics file, side by side in one run. Prints one JSON object.
#
#   influx   points/s (InfluxDB points = lines) delivered by `run --speed max --influx` into an
#            InfluxDB 1.6 started here (127.0.0.1, free ports), next to InfluxDB's own
#            ingestion of the very same request bodies (captured from an identical run by a
#            Node receiver) POSTed with curl, 2 at a time like diorama, into a fresh database
#            of the same server. Both counted back with InfluxQL. diorama's figure is end to
#            end (generation, encoding, HTTP); curl's is the load alone.
#   openmetrics  points/s and MB/s of `run fleet --speed max --openmetrics-file` (spool per
#            family, assembly at the end: its seconds too), next to `--otlp-file` of the same
#            run. Both are end to end, so generation bounds them.
# Median of ROUNDS (3) each.
#
# usage: bench/influx_bench.sh [--duration D] [--rounds N]   (BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${BUILD:-build}
D=$(realpath "$BUILD/diorama")
DUR=30m
OMDUR=1h
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in --duration) DUR=$2; shift ;; --rounds) ROUNDS=$2; shift ;; *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
[ -x /usr/bin/influxd ] || { echo "influx_bench: influxd not installed" >&2; exit 1; }
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
. "$SRC/tests/integration/influx_peer.sh"
influx_start "$TMP/influx" >/dev/null
now() { date +%s.%N; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
lines_in() { # db -> InfluxDB points in it
  influxql "$1" 'SELECT count("value") FROM /.*/' | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log((j.results[0].series || []).reduce((a, s) => a + s.values[0][1], 0));'
}
RUNARGS=(run inference --speed max --duration "$DUR" --signals metrics --seed 5 -q --shutdown-timeout 10m)

d_rates=() c_rates=() lines=0 reqs=0
for r in $(seq "$ROUNDS"); do
  # the bodies diorama sends, captured by a receiver that answers 204 at once
  rm -rf "$TMP/cap" && mkdir -p "$TMP/cap"
  node "$SRC/bench/node/capture.js" --port-file "$TMP/cap.port" --dir "$TMP/cap" &
  cap=$!
  for _ in $(seq 200); do [ -s "$TMP/cap.port" ] && break; sleep 0.05; done
  "$D" "${RUNARGS[@]}" --influx "http://127.0.0.1:$(cat "$TMP/cap.port")/write" >/dev/null
  kill "$cap"; wait "$cap" 2>/dev/null || true
  rm -f "$TMP/cap.port"
  reqs=$(ls "$TMP/cap" | wc -l)
  # diorama into InfluxDB
  influxql x "DROP DATABASE d$r; CREATE DATABASE d$r" >/dev/null
  "$D" "${RUNARGS[@]}" --influx "$INFLUX_URL/write?db=d$r" --summary-json "$TMP/s.json" >/dev/null
  wall=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).wall_seconds)' "$TMP/s.json")
  lines=$(lines_in "d$r")
  d_rates+=("$(node -e "console.log(Math.round($lines / $wall))")")
  # the same bodies with curl, two requests at a time
  influxql x "DROP DATABASE c$r; CREATE DATABASE c$r" >/dev/null
  t0=$(now)
  ls "$TMP/cap"/*.lp | xargs -P 2 -I{} curl -sf -o /dev/null --data-binary @{} \
    -H 'Content-Type: text/plain; charset=utf-8' "$INFLUX_URL/write?db=c$r"
  t1=$(now)
  back=$(lines_in "c$r")
  [ "$back" = "$lines" ] || { echo "influx_bench: curl wrote $back points, diorama $lines" >&2; exit 1; }
  c_rates+=("$(node -e "console.log(Math.round($lines / ($t1 - $t0)))")")
  influxql x "DROP DATABASE d$r; DROP DATABASE c$r" >/dev/null
done
points=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).signals.metric_points.delivered)' "$TMP/s.json")
influx_stop

# The OpenMetrics file on the metric-heavy fleet (20 hosts, full host metrics).
OMARGS=(run fleet --speed max --duration "$OMDUR" --signals metrics --seed 5 -q)
om_rates=() om_mb=() om_asm=() of_rates=() om_bytes=0
for r in $(seq "$ROUNDS"); do
  "$D" "${OMARGS[@]}" --openmetrics-file "$TMP/m.om" --summary-json "$TMP/om.json" >/dev/null
  om_bytes=$(stat -c %s "$TMP/m.om")
  read -r del wall asm < <(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(j.signals.metric_points.delivered, j.wall_seconds,
                j.signals.metric_points.export_latency_us.max / 1e6)' "$TMP/om.json")
  om_rates+=("$(node -e "console.log(Math.round($del / $wall))")")
  om_mb+=("$(node -e "console.log(($om_bytes / $wall / 1e6).toFixed(1))")")
  om_asm+=("$asm")
  "$D" "${OMARGS[@]}" --otlp-file "$TMP/m.jsonl" --summary-json "$TMP/of.json" >/dev/null
  read -r del wall < <(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(j.signals.metric_points.delivered, j.wall_seconds)' "$TMP/of.json")
  of_rates+=("$(node -e "console.log(Math.round($del / $wall))")")
  rm -f "$TMP/m.om" "$TMP/m.jsonl"
done
dm=$(med "${d_rates[@]}")
cm=$(med "${c_rates[@]}")
cat <<JSON
{
  "machine": {"nproc": $(nproc), "date": "$(date -u +%FT%TZ)", "influxdb": "$(/usr/bin/influxd version | awk '{print $2}')"},
  "scenario": "inference --duration $DUR --signals metrics", "rounds": $ROUNDS,
  "influx": {
    "diorama_points": $points, "influx_points_per_round": $lines, "requests": $reqs,
    "diorama_influx_points_per_sec": {"median": $dm, "all": [$(IFS=,; echo "${d_rates[*]}")]},
    "curl_same_bodies_points_per_sec": {"median": $cm, "all": [$(IFS=,; echo "${c_rates[*]}")]},
    "ratio": $(node -e "console.log(($dm / $cm).toFixed(2))")
  },
  "openmetrics": {
    "scenario": "fleet --duration $OMDUR --signals metrics", "file_bytes": $om_bytes,
    "assembly_seconds": {"median": $(med "${om_asm[@]}"), "all": [$(IFS=,; echo "${om_asm[*]}")]},
    "points_per_sec": {"median": $(med "${om_rates[@]}"), "all": [$(IFS=,; echo "${om_rates[*]}")]},
    "mb_per_sec": {"median": $(med "${om_mb[@]}"), "all": [$(IFS=,; echo "${om_mb[*]}")]},
    "otlp_file_points_per_sec": {"median": $(med "${of_rates[@]}"), "all": [$(IFS=,; echo "${of_rates[*]}")]}
  },
  "note": "diorama's rates are end to end (generation, encoding, delivery); curl's is InfluxDB loading the same request bodies"
}
JSON
