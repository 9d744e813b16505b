#!/usr/bin/env bash
# The predictive-monitoring demo (seed 003) end to end, the way a presenter runs it: `diorama up
# fleet --speed 5` feeding a `diorama sink` over OTLP/HTTP and a real Prometheus (2.42) scraping
# its /metrics; headless Chromium (playwright-core, Debian's chromium) clicks ppdb002 ->
# degrading -> critical -> healthy and the header and rate controls
# (tests/node/console_demo.js: the page, the control API, Prometheus); then the telemetry the
# sink recorded is decoded (tests/node/console_sink_check.js: ppdb002's CPU, the latency and
# errors of the requests it serves, per phase). At speed 5 with a 5 s metric interval the
# world exports once per wall second: quick, and every check waits for a condition (no
# duration is asserted). The simulated day starts at 06:00 UTC, after the ppdb hosts' nightly
# maintenance (04:30-05:10, double CPU), whatever the time of day. The label list must show the
# three changes one row each. Screenshots: $BUILD/artefacts/demo-*.png.
. "$(dirname "$0")/lib.sh"
node_dir=$SRC/tests/node
chromium=${CHROMIUM:-/usr/bin/chromium}
missing=""
command -v node >/dev/null || missing+=" node"
command -v prometheus >/dev/null || missing+=" prometheus"
[ -x "$chromium" ] || missing+=" $chromium"
[ -d "$node_dir/node_modules/playwright-core" ] || missing+=" playwright-core (npm ci --prefix tests/node)"
if [ -n "$missing" ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: the console demo test needs:$missing (scripts/install-deps.sh)"; exit 1; }
  skip "missing:$missing"
fi
art=$BUILD/artefacts
mkdir -p "$art" "$TMP/rec"

# the sink: a free port, written to a port file
"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/sink.port" --record "$TMP/rec" -q \
  >"$TMP/sink.out" 2>"$TMP/sink.err" &
SINK=$!
PIDS+=($SINK)
for _ in $(seq 1 100); do [ -s "$TMP/sink.port" ] && break; sleep 0.1; done
check "the sink listens ($(cat "$TMP/sink.err"))" [ -s "$TMP/sink.port" ]
sport=$(cat "$TMP/sink.port")

"$DIORAMA" up fleet --speed 5 --metric-interval 5s --signals traces,metrics \
  --otlp "http://127.0.0.1:$sport" --control 127.0.0.1:0 --prom-listen 127.0.0.1:0 \
  --serve 127.0.0.1:0 --labels "$TMP/labels" --start "$(date -u +%Y-%m-%d)T06:00:00Z" >"$TMP/up.out" 2>"$TMP/up.err" &
UP=$!
PIDS+=($UP)
CON="" MET=""
for _ in $(seq 1 300); do
  CON=$(sed -n 's#^console: \(http://[^/]*\)/$#\1#p' "$TMP/up.err")
  MET=$(sed -n 's#.*/metrics *http://\([^/]*\)/metrics#\1#p' "$TMP/up.err")
  [ -n "$CON" ] && [ -n "$MET" ] && break
  sleep 0.1
done
check "up fleet starts ($(tr '\n' ' ' <"$TMP/up.err"))" [ -n "$CON" ] && [ -n "$MET" ]

# Prometheus scrapes /metrics every second; it takes a free port, retried if another test took it
for _ in 1 2 3; do
  pport=$(free_port)
  cat >"$TMP/prom.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: diorama
    honor_labels: true
    static_configs: [{targets: ["$MET"]}]
YML
  prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$pport" >"$TMP/prom.log" 2>&1 &
  PROM=$!
  PIDS+=($PROM)
  wait_port "$pport" 60 && kill -0 "$PROM" 2>/dev/null && break
done
check "prometheus listens on $pport" kill -0 "$PROM"

CHROMIUM=$chromium timeout 150 node "$node_dir/console_demo.js" "$CON" "http://127.0.0.1:$pport" "$art" "$TMP/phases.json"
check "console_demo.js passed" [ $? = 0 ]

kill -TERM "$UP"; wait "$UP"; rc=$?
check "up: SIGTERM, exit 0 ($rc)" [ "$rc" = 0 ]
check "up delivered everything to the sink ($(grep -m1 'spans ' "$TMP/up.err"))" \
  sh -c "! grep -Eq '(dropped|timed out) [1-9]' '$TMP/up.err'"
timeout 60 node "$node_dir/console_sink_check.js" "$TMP/rec" "$TMP/phases.json" 5000
check "console_sink_check.js passed" [ $? = 0 ]
# degrading and critical begin; healthy starts no period: it is the end line of critical
for s in degrading:begin critical:begin critical:end; do
  check "the label file has ppdb002 ${s%:*} ${s#*:} (source: command)" \
    grep -q "\"target\":\"ppdb002\",\"kind\":\"state\",\"state\":\"${s%:*}\".*\"source\":\"command\".*\"phase\":\"${s#*:}\"" "$TMP/labels"
done
for f in demo-healthy.png demo-degrading.png demo-critical.png; do
  check "screenshot $f kept" [ -s "$art/$f" ]
done
kill -TERM "$PROM" "$SINK"
finish
