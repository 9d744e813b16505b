#!/usr/bin/env bash
# What `run` tells a user on stderr: a start banner with every endpoint (the /metrics URL with
# the port really bound), a status line that shows what the outputs in use produce (with only
# /metrics: series, points and scrapes, not "spans 0/s"), a warning when /metrics would not
# live long enough to be scraped, and --linger keeping it up after the run.
. "$(dirname "$0")/lib.sh"

# wait_for FILE REGEX [seconds]: until a line of FILE matches.
wait_for() {
  local i
  for ((i = 0; i < ${3:-10} * 20; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# 1. Only --prom-listen, real time, long enough for one status line (every 10 s off a tty).
"$DIORAMA" run inference --prom-listen 127.0.0.1:0 --duration 11s --metric-interval 1s \
  >"$TMP/run1.out" 2>"$TMP/run1.err" &
pid=$!
PIDS+=($pid)
check "banner names the /metrics URL" wait_for "$TMP/run1.err" '^  /metrics +http://127\.0\.0\.1:[0-9]+/metrics$'
url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/metrics' "$TMP/run1.err" | head -1)
check "the banner's port is not 0 ($url)" grep -qvE ':0/' <<<"$url"
sleep 1.5 # a metric tick
curl -sf "$url" -o "$TMP/metrics.txt"
check "the banner's URL serves the world's metrics" grep -q '^http_server_requests_total{' "$TMP/metrics.txt"
wait "$pid"
rc=$?
check "run exits 0 (got $rc)" [ "$rc" = 0 ]
status=$(grep -E '^ *[0-9.]+s \(sim' "$TMP/run1.err" | tail -1)
check "a status line was printed ($(head -c 300 "$TMP/run1.err"))" [ -n "$status" ]
check "status line shows /metrics series and scrapes ($status)" grep -qE '/metrics [0-9.]+k? series, points [0-9.]+k?/s, scrapes [1-9]' <<<"$status"
check "status line does not claim spans with no span output ($status)" bash -c "! grep -q 'spans' <<<'$status'"
check "banner names the scenario" grep -q '^diorama: running inference (seed 42, speed 1, 11 s simulated)' "$TMP/run1.err"

# 2. --speed max: /metrics would be gone before any scrape: a warning that says what to do.
"$DIORAMA" run inference --prom-listen 127.0.0.1:0 --speed max --duration 30s \
  >"$TMP/run2.out" 2>"$TMP/run2.err"
rc=$?
check "--speed max run exits 0 (got $rc)" [ "$rc" = 0 ]
check "--speed max with --prom-listen warns and suggests --linger ($(cat "$TMP/run2.err"))" \
  grep -q 'warning: --speed max with --prom-listen.*--linger' "$TMP/run2.err"

# 3. --linger: after the run (summary printed) /metrics still answers, until SIGINT.
"$DIORAMA" run inference --prom-listen 127.0.0.1:0 --speed max --duration 30s --linger 60s \
  --otlp-file "$TMP/out.jsonl" --labels "$TMP/labels.jsonl" >"$TMP/run3.out" 2>"$TMP/run3.err" &
pid=$!
PIDS+=($pid)
check "--linger says it keeps serving" wait_for "$TMP/run3.err" 'serving the final metrics at http://127\.0\.0\.1:[0-9]+/metrics' 20
check "no short-run warning with --linger" bash -c "! grep -q 'warning: --speed max' '$TMP/run3.err'"
check "banner lists the OTLP file" grep -qE "^  OTLP file +$TMP/out.jsonl$" "$TMP/run3.err"
check "banner lists the labels file" grep -qE "^  labels +$TMP/labels.jsonl$" "$TMP/run3.err"
check "the summary is out before lingering" grep -q 'diorama run: scenario inference' "$TMP/run3.out"
url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/metrics' "$TMP/run3.err" | head -1)
curl -sf "$url" -o "$TMP/metrics3.txt"
check "after the run, /metrics still has the world's metrics" grep -q '^http_server_requests_total{' "$TMP/metrics3.txt"
kill -INT "$pid"
wait "$pid"
rc=$?
check "SIGINT ends --linger with the run's exit code 0 (got $rc)" [ "$rc" = 0 ]

# 4. -q: quiet, no banner.
"$DIORAMA" run minimal --speed max --duration 5s --null -q >/dev/null 2>"$TMP/run4.err"
check "-q prints no banner ($(cat "$TMP/run4.err"))" [ ! -s "$TMP/run4.err" ]
finish
