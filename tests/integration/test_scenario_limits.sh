#!/usr/bin/env bash
# The metric series cap: a scenario whose world would have more series than --max-series
# (default 1,000,000) is refused at load time, before the world is built, with exit 3 and a
# file:line:col message; --max-series lets a bigger one through (run, serve, scenarios
# validate). And the /metrics size warning of validate and run --prom-listen.
. "$(dirname "$0")/lib.sh"

# hosts N CPUS FILE: N hosts of CPUS logical CPUs and one service.
hosts() {
  { echo "hosts:"
    for ((i = 1; i <= $1; i++)); do echo "  - {name: host-$i, cpus: $2, memory_gib: 512}"; done
    echo "services: [{name: api, host: host-1, operations: [{name: GET /, rate: 10/s}]}]"
  } >"$3"
}
# maxrss CMD...: runs CMD, stores its exit code in $rc and its peak RSS (KiB) in $rss.
maxrss() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$TMP/rss" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    rss=$(tail -1 "$TMP/rss")
  else
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    rss=0
  fi
}

# The issue's case: 10,000 hosts x 1,024 CPUs (1.9 MB of YAML; with the full host metrics set
# 102.7 million series) passed validate and took 6.8 GB. Now refused at load, pointing at the
# first host's cpus.
hosts 10000 1024 "$TMP/huge.yaml"
for cmd in "scenarios validate" "run --speed max --duration 10s --null" "serve --listen 127.0.0.1:0"; do
  maxrss timeout 30 "$DIORAMA" $cmd "$TMP/huge.yaml"
  check "$cmd: refused with exit 3 (got $rc)" [ "$rc" = 3 ]
  check "$cmd: file:line:col at hosts[0].cpus ($(head -c 300 "$TMP/err"))" \
    grep -q "huge.yaml:2:[0-9]*: hosts\[0\].cpus: the world would have up to 102,690,01[0-9] metric series" "$TMP/err"
  check "$cmd: says how to raise the limit" grep -q -- '--max-series' "$TMP/err"
  check "$cmd: fails before allocating the world (peak RSS ${rss} KiB < 100 MiB)" [ "$rss" -lt 102400 ]
done

# 40 hosts x 1,024 CPUs: 410,770 series (40 x 10,269 + 10 for the service). Under a cap of
# 100,000 refused; 500,000 lets it run.
hosts 40 1024 "$TMP/mid.yaml"
"$DIORAMA" scenarios validate --max-series 100000 "$TMP/mid.yaml" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "validate --max-series 100000: exit 3 (got $rc)" [ "$rc" = 3 ]
check "the message names the cap" grep -q 'over the limit of 100,000' "$TMP/err"
"$DIORAMA" scenarios validate --max-series=500000 "$TMP/mid.yaml" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "validate --max-series=500000: exit 0 (got $rc: $(cat "$TMP/err"))" [ "$rc" = 0 ]
check "validate prints the series count ($(cat "$TMP/out"))" grep -q 'ok (1 services, 40 hosts, 0 models, 0 faults; up to 410770 metric series)' "$TMP/out"
"$DIORAMA" run "$TMP/mid.yaml" --max-series 100000 --speed max --duration 2s --null -q >"$TMP/out" 2>"$TMP/err"
rc=$?
check "run --max-series 100000: exit 3 (got $rc)" [ "$rc" = 3 ]
"$DIORAMA" run "$TMP/mid.yaml" --max-series 500000 --speed max --duration 2s --null -q >"$TMP/out" 2>"$TMP/err"
rc=$?
check "run --max-series 500000: runs, exit 0 (got $rc: $(head -c 300 "$TMP/err"))" [ "$rc" = 0 ]
"$DIORAMA" serve inference --max-series 10 --listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err"
rc=$?
check "serve --max-series 10: exit 3 (got $rc)" [ "$rc" = 3 ]
for cmd in "run inference" "serve inference" "scenarios validate inference"; do
  "$DIORAMA" $cmd --max-series nope >"$TMP/out" 2>"$TMP/err"
  rc=$?
  check "$cmd --max-series nope: exit 2 (got $rc)" [ "$rc" = 2 ]
done

# The bad-scenario file of the unit table, through the CLI.
"$DIORAMA" scenarios validate "$SRC/tests/data/bad/too_many_series.yaml" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "too_many_series.yaml: exit 3 (got $rc)" [ "$rc" = 3 ]
check "too_many_series.yaml: points at the largest host" grep -q 'too_many_series.yaml:104:11: hosts\[99\].cpus' "$TMP/err"

# /metrics size: 90 hosts x 1,024 CPUs (924,220 series) is within the cap but its exposition
# (~110 MiB) is over the 64 MiB a scrape may carry: validate warns, and says what to do.
hosts 90 1024 "$TMP/wide.yaml"
"$DIORAMA" scenarios validate "$TMP/wide.yaml" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "wide.yaml validates (exit $rc)" [ "$rc" = 0 ]
check "validate warns that /metrics would be too big ($(cat "$TMP/err"))" \
  grep -qE 'warning: .*wide.yaml: with --prom-listen, /metrics would be about [0-9]+ MiB .* over the 64 MiB a scrape may carry' "$TMP/err"
check "the warning says what to do" grep -q -- 'raise --prom-max-bytes, or export metrics with --otlp' "$TMP/err"
"$DIORAMA" scenarios validate inference >"$TMP/out" 2>"$TMP/err"
check "a small scenario validates without a warning ($(cat "$TMP/err"))" [ ! -s "$TMP/err" ]
# run --prom-listen warns at load against its own --prom-max-bytes (inference: ~45 KiB).
"$DIORAMA" run inference --prom-listen 127.0.0.1:0 --prom-max-bytes 16k --speed max \
  --duration 1s --linger 0 >"$TMP/out" 2>"$TMP/err"
check "run --prom-listen warns when /metrics would exceed --prom-max-bytes" \
  grep -q 'warning: inference: with --prom-listen, /metrics would be about [0-9]* KiB .* over the 16 KiB' "$TMP/err"
finish
