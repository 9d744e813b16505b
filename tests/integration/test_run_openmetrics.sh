#!/usr/bin/env bash
# --openmetrics-file: the README's "Backfill Prometheus" recipe, for real. Two simulated hours
# (10 s interval) ending yesterday are written as OpenMetrics, promtool (Prometheus 2.42, Debian)
# turns the file into TSDB blocks, Prometheus is started on those blocks (127.0.0.1, a free port,
# stopped by PID) and the first and the last hour are queried back: the samples per window equal
# what the file holds for it, and all of them together equal the points diorama says it
# delivered. Also: the file's families do not interleave and it ends with # EOF; an
# unwritable path is exit 1 before the run.
. "$(dirname "$0")/lib.sh"
PROM=${PROM:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
if [ ! -x "$PROM" ] || [ ! -x "$PROMTOOL" ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: prometheus/promtool missing (scripts/install-deps.sh)"; exit 1; }
  skip "prometheus and promtool not installed"
fi

# Yesterday, on a whole hour, so the blocks are inside Prometheus' default retention.
START=$(( ($(date +%s) - 86400) / 3600 * 3600 ))
OM=$TMP/run.om
"$DIORAMA" run inference --speed max --start "$START" --duration 2h --metric-interval 10s \
  --openmetrics-file "$OM" --summary-json "$TMP/s.json" -q >"$TMP/run.out" 2>"$TMP/run.err"
rc=$?
check "run exit 0, got $rc ($(tail -2 "$TMP/run.err"))" [ "$rc" = 0 ]
DEL=$(json "$TMP/s.json" 'j.outputs.find(o => o.name === "openmetrics_file").signals.metric_points.delivered')
GEN=$(json "$TMP/s.json" 'j.outputs.find(o => o.name === "openmetrics_file").signals.metric_points.generated')
check "every point generated ($GEN) was delivered ($DEL)" [ "$GEN" = "$DEL" -a "$DEL" -gt 0 ]
check "the file ends with # EOF" [ "$(tail -1 "$OM")" = "# EOF" ]
check "no .tmp or spool files left" [ "$(ls "$TMP" | grep -c -e '\.tmp$' -e spool)" = 0 ]
# Families do not interleave: a family's samples all come after its # TYPE and before the next.
inter=$(awk '/^# TYPE /{if (seen[$3]++) bad++; fam=$3; next} /^#/{next}
  { n=$1; sub(/\{.*/, "", n); if (index(n, fam) != 1) bad++ } END{print bad+0}' "$OM")
check "families are contiguous ($inter samples out of place)" [ "$inter" = 0 ]
# One sample per point: every sample line except histogram buckets and sums.
lines=$(grep -v '^#' "$OM" | grep -vc -e '_bucket{' -e '_sum{' -e '_sum ')
check "the file has one non-bucket, non-sum sample per delivered point ($lines)" [ "$lines" = "$DEL" ]
grep -q '^# UNIT http_server_request_duration_seconds seconds$' "$OM"
rc=$?
check "UNIT metadata for the duration histogram" [ "$rc" = 0 ]

"$PROMTOOL" tsdb create-blocks-from openmetrics "$OM" "$TMP/data" >"$TMP/promtool.out" 2>&1
rc=$?
check "promtool create-blocks-from openmetrics succeeds ($(tail -3 "$TMP/promtool.out"))" [ "$rc" = 0 ]

PORT=$(free_port)
cat >"$TMP/prom.yml" <<EOF
global:
  scrape_interval: 1h
EOF
"$PROM" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/data" \
  --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=30d \
  >"$TMP/prom.log" 2>&1 &
PPID_=$!
PIDS+=($PPID_)
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
query() { # promql at unix time -> the first value or "none"
  curl -sS "http://127.0.0.1:$PORT/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$2" |
    jq -r '.data.result[0].value[1] // "none"'
}
# raw samples of a range selector at unix time, counted (count_over_time would drop the names
# and collide); "none" when the query fails
samples() {
  curl -sS "http://127.0.0.1:$PORT/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$2" |
    jq -r 'if .status == "success" then ([.data.result[].values | length] | add // 0) else "none" end'
}
SEL='{__name__=~".+",__name__!~".*_bucket|.*_sum"}'
# sample lines of the file with a timestamp in [from, to] (the points of that window)
in_file() {
  grep -v '^#' "$OM" | grep -v -e '_bucket{' -e '_sum{' -e '_sum ' |
    awk -v a="$1" -v b="$2" '{ t=$NF+0; if (t >= a && t <= b) n++ } END{print n+0}'
}
FIRST=$(grep -v '^#' "$OM" | awk '{print $NF}' | sort -n | head -1)
LAST=$(grep -v '^#' "$OM" | awk '{print $NF}' | sort -n | tail -1)
check "the samples span the two hours ($FIRST .. $LAST from $START)" \
  [ "${FIRST%.*}" -ge "$START" -a "${LAST%.*}" -le "$((START + 7200))" -a "${LAST%.*}" -gt "$((START + 7000))" ]
h1=$(samples "${SEL}[1h]" "$((START + 3600))")
e1=$(in_file "$START" "$((START + 3600))")
check "first hour: Prometheus has $h1 samples = $e1 in the file (> 0)" [ "$h1" = "$e1" -a "$e1" -gt 0 ]
h2=$(samples "${SEL}[1h]" "$((START + 7200))")
e2=$(in_file "$((START + 3600))" "$((START + 7200))")
check "last hour: Prometheus has $h2 samples = $e2 in the file (> 0)" [ "$h2" = "$e2" -a "$e2" -gt 0 ]
all=$(samples "${SEL}[3h]" "$((START + 7200))")
check "all: $all samples = $DEL points delivered" [ "$all" = "$DEL" ]
p99=$(query "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket[1h])))" "$((START + 7200))")
check "a p99 from the backfilled histogram ($p99)" [ "$p99" != none -a "$p99" != NaN ]

"$DIORAMA" run minimal --speed max --duration 1m --openmetrics-file "$TMP/no/such/dir/m.om" \
  >/dev/null 2>"$TMP/bad.err"
rc=$?
check "an unwritable path: exit 1, got $rc ($(cat "$TMP/bad.err"))" [ "$rc" = 1 ]
finish
