#!/usr/bin/env bash
# --influx (InfluxDB line protocol) against a real InfluxDB 1.6 and a real VictoriaMetrics
# (Debian), both started here on 127.0.0.1 on free ports and stopped by PID:
#  1. InfluxDB: every delivered point is there: InfluxQL count(value) per measurement, summed,
#     equals the lines the delivered points make (from an OTLP/JSON file of the same run:
#     1 per gauge/sum point, bounds + 3 per histogram point), and per metric; plain and gzip;
#  2. an InfluxQL query answers (requests per service);
#  3. InfluxDB stopped for 5 s in the middle of a real-time run: retried, nothing lost, no
#     duplicates (a rewrite of the same point overwrites it);
#  4. a database that does not exist: rejected (404), nothing retried, exit 4, and a password
#     in the URL is never printed; bad URLs are usage errors;
#  5. VictoriaMetrics' /write (-influxSkipSingleField): the series and sample counts queried
#     back with PromQL equal what the OTLP/JSON file of the same run holds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/influx_peer.sh"
VM=${VM:-/usr/bin/victoria-metrics}
if [ ! -x "$INFLUXD" ] || [ ! -x "$VM" ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: influxd or victoria-metrics missing (scripts/install-deps.sh)"; exit 1; }
  skip "influxd or victoria-metrics not installed (scripts/install-deps.sh installs them)"
fi

# Lines expected per Prometheus-style measurement from an OTLP/JSON file: JSON {name: count}
# where histogram points count under <name>_count (one per point) and "_lines" is the total.
expected() { # otlp.jsonl
  node -e '
    const fs = require("fs");
    const names = { "http.server.request.duration": "http_server_request_duration_seconds",
                    "system.cpu.utilization": "system_cpu_utilization_ratio" };
    const out = { _lines: 0, _points: 0 };
    for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
      if (!line.startsWith("{\"resourceMetrics\"")) continue;
      for (const rm of JSON.parse(line).resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            const h = m.histogram, pts = (m.gauge || m.sum || m.histogram).dataPoints;
            for (const p of pts) {
              out._points++;
              out._lines += h ? (p.explicitBounds || h.dataPoints[0].explicitBounds || []).length + 3 : 1;
              const n = names[m.name];
              if (n) out[n] = (out[n] || 0) + 1;
            }
          }
    }
    console.log(JSON.stringify(out));' "$1"
}

# sum of count(value) over every measurement of a run, and per measurement: JSON {name: n}
influx_counts() { # db run_id
  influxql "$1" "SELECT count(\"value\") FROM /.*/ WHERE \"diorama.run_id\" = '$2'" | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const out = { _lines: 0 };
    for (const s of (j.results[0].series || [])) { out[s.name] = s.values[0][1]; out._lines += s.values[0][1]; }
    console.log(JSON.stringify(out));'
}

influx_start "$TMP/influx" || { echo "FAIL: InfluxDB 1.6 did not start"; exit 1; }
influxql dio "CREATE DATABASE dio" >/dev/null
W="$INFLUX_URL/write?db=dio"

# ---- 1. counts ---------------------------------------------------------------------------------
one() { # name, extra run args...
  local name=$1; shift
  "$DIORAMA" run inference --speed max --duration 10m --seed 7 --influx "$W" \
    --otlp-file "$TMP/$name.jsonl" --signals metrics --summary-json "$TMP/$name.sum" -q \
    --shutdown-timeout 120s "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  RC=$?
  RUN=$(json "$TMP/$name.sum" j.run_id)
  EXP=$(expected "$TMP/$name.jsonl")
  GOT=$(influx_counts dio "$RUN")
  local del gen
  del=$(json "$TMP/$name.sum" 'j.outputs.find(o => o.name === "influx").signals.metric_points.delivered')
  gen=$(json "$TMP/$name.sum" 'j.outputs.find(o => o.name === "influx").signals.metric_points.generated')
  check "$name: exit 0 (got $RC: $(tail -2 "$TMP/$name.err"))" [ "$RC" = 0 ]
  check "$name: influx generated $gen = delivered $del = points in the OTLP file $(echo "$EXP" | jq ._points)" \
    [ "$gen" = "$del" -a "$del" = "$(echo "$EXP" | jq ._points)" -a "$del" -gt 0 ]
  check "$name: InfluxDB holds $(echo "$GOT" | jq ._lines) points = the $(echo "$EXP" | jq ._lines) lines of the delivered points" \
    [ "$(echo "$GOT" | jq ._lines)" = "$(echo "$EXP" | jq ._lines)" ]
  for m in http_server_request_duration_seconds system_cpu_utilization_ratio; do
    local k=$m
    [ $m = http_server_request_duration_seconds ] && k=${m}_count
    check "$name: $k: $(echo "$GOT" | jq ".$k") in InfluxDB = $(echo "$EXP" | jq ".$m") points of the run" \
      [ "$(echo "$GOT" | jq ".$k")" = "$(echo "$EXP" | jq ".$m")" -a "$(echo "$EXP" | jq ".$m")" != null ]
  done
}
one plain
one gzip --compression gzip --seed 8

# ---- 2. a query answers ------------------------------------------------------------------------
q=$(influxql dio "SELECT last(\"value\") FROM \"http_server_requests_total\" WHERE \"diorama.run_id\" = '$RUN' GROUP BY \"service.name\"")
nsvc=$(echo "$q" | jq '.results[0].series | length')
check "requests per service: $nsvc services answer ($q)" [ "$nsvc" -gt 1 ]

# ---- 3. InfluxDB down for 5 s in a real-time run -----------------------------------------------
"$DIORAMA" run inference --speed 60 --duration 20m --seed 11 --influx "$W" --signals metrics \
  --otlp-file "$TMP/down.jsonl" --metric-interval 10s --batch-timeout 200ms \
  --summary-json "$TMP/down.sum" --shutdown-timeout 60s -q >"$TMP/down.out" 2>"$TMP/down.err" &
DPID=$!
PIDS+=($DPID)
sleep 5
influx_stop
sleep 5
influx_start "$TMP/influx" || fail "InfluxDB did not come back"
wait "$DPID"
RC=$?
RUN=$(json "$TMP/down.sum" j.run_id)
EXP=$(expected "$TMP/down.jsonl")
GOT=$(influx_counts dio "$RUN")
check "down: exit 0 (got $RC: $(tail -2 "$TMP/down.err"))" [ "$RC" = 0 ]
check "down: requests were retried ($(json "$TMP/down.sum" 'j.outputs.find(o => o.name === "influx").signals.metric_points.retried'))" \
  [ "$(json "$TMP/down.sum" 'j.outputs.find(o => o.name === "influx").signals.metric_points.retried')" -gt 0 ]
check "down: InfluxDB holds $(echo "$GOT" | jq ._lines) = $(echo "$EXP" | jq ._lines) lines: none lost, none twice" \
  [ "$(echo "$GOT" | jq ._lines)" = "$(echo "$EXP" | jq ._lines)" ]

# ---- 4. rejected, credentials, bad URLs --------------------------------------------------------
"$DIORAMA" run minimal --speed max --duration 1m \
  --influx "http://dio:S3cretPw@127.0.0.1:$INFLUX_PORT/write?db=nope&u=dio&p=0therS3cret" \
  --summary-json "$TMP/rej.sum" >"$TMP/rej.out" 2>"$TMP/rej.err"
RC=$?
check "unknown database: exit 4 (got $RC)" [ "$RC" = 4 ]
check "unknown database: dropped as rejected, not retried" \
  [ "$(json "$TMP/rej.sum" 'j.outputs[0].signals.metric_points.dropped_by_reason.rejected > 0 && j.outputs[0].signals.metric_points.retried === 0')" = true ]
check "unknown database: the message says why ($(head -3 "$TMP/rej.err"))" grep -q "database not found" "$TMP/rej.err"
check "no password printed" [ "$(cat "$TMP/rej.out" "$TMP/rej.err" | grep -c -e S3cretPw -e 0therS3cret)" = 0 ]
check "the banner shows the URL masked" grep -q "dio:\*\*\*\*@127.0.0.1" "$TMP/rej.err"
"$DIORAMA" run minimal --influx "ftp://127.0.0.1/write" --duration 1s >/dev/null 2>"$TMP/bad.err"
rc=$?
check "--influx ftp://: exit 2, got $rc ($(cat "$TMP/bad.err"))" [ "$rc" = 2 ]
"$DIORAMA" run minimal --influx "$W&precision=s" --duration 1s >/dev/null 2>"$TMP/bad.err"
rc=$?
check "--influx ...precision=s: exit 2, got $rc ($(cat "$TMP/bad.err"))" [ "$rc" = 2 ]
influx_stop

# ---- 5. VictoriaMetrics /write ---------------------------------------------------------------------
VMPORT=$(free_port)
"$VM" -storageDataPath "$TMP/vm" -httpListenAddr "127.0.0.1:$VMPORT" -retentionPeriod 100y \
  -influxSkipSingleField -loggerLevel ERROR >"$TMP/vm.log" 2>&1 &
VMPID=$!
PIDS+=($VMPID)
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$VMPORT/health" >/dev/null 2>&1 && break; sleep 0.05; done
"$DIORAMA" run inference --speed max --duration 10m --seed 7 --influx "http://127.0.0.1:$VMPORT/write" \
  --otlp-file "$TMP/vm.jsonl" --signals metrics --summary-json "$TMP/vm.sum" -q \
  --shutdown-timeout 120s >/dev/null 2>"$TMP/vm.err"
rc=$?
check "vm: exit 0, got $rc ($(tail -2 "$TMP/vm.err"))" [ "$rc" = 0 ]
curl -sf "http://127.0.0.1:$VMPORT/internal/force_flush" >/dev/null
RUN=$(json "$TMP/vm.sum" j.run_id)
EXP=$(expected "$TMP/vm.jsonl")
promql() { curl -sS "http://127.0.0.1:$VMPORT/api/v1/query" --data-urlencode "query=$1" \
  --data-urlencode "time=2026-01-02T00:00:00Z" | jq -r '.data.result[0].value[1] // "none"'; }
for m in http_server_request_duration_seconds_count system_cpu_utilization_ratio; do
  e=${m%_count}
  got=$(promql "sum(count_over_time(${m}{diorama.run_id=\"$RUN\"}[2d]))")
  check "vm: $m samples $got = $(echo "$EXP" | jq ".$e") points of the run" [ "$got" = "$(echo "$EXP" | jq ".$e")" ]
done
n=$(curl -sS "http://127.0.0.1:$VMPORT/api/v1/series" --data-urlencode "match[]={__name__=~\"http_server_request_duration_seconds_bucket\",diorama.run_id=\"$RUN\"}" \
  --data-urlencode "start=2025-12-31T00:00:00Z" | jq '.data | length')
check "vm: bucket series exist ($n)" [ "$n" -gt 0 ]
all=$(promql "sum(count_over_time({__name__!~\".*_bucket|.*_sum\",diorama.run_id=\"$RUN\"}[2d]))")
check "vm: samples of all series but buckets and sums $all = points delivered $(json "$TMP/vm.sum" j.signals.metric_points.delivered)" \
  [ "$all" = "$(json "$TMP/vm.sum" j.signals.metric_points.delivered)" ]
finish
