#!/usr/bin/env bash
# diorama load: bad input gives a clear message and exit 2; thresholds pass and fail as
# written (exit 0 / 7); refused connections are counted and the run still reports (exit 4).
. "$(dirname "$0")/lib.sh"
T=$BUILD/load_target
[ -x "$T" ] || skip "load_target not built"

usage_err() { # usage_err "what" args... : exit 2 and a 'diorama:' message
  local what=$1; shift
  "$DIORAMA" load "$@" >/dev/null 2>"$TMP/err"
  local rc=$?
  check "$what: exit 2 (got $rc)" [ "$rc" = 2 ]
  check "$what: message" grep -q '^diorama: load: ' "$TMP/err"
}
usage_err "no URL" --rate 10
usage_err "bad scheme" ftp://127.0.0.1/ --rate 10
usage_err "bad port" http://127.0.0.1:99999/ --rate 10
usage_err "space in URL" "http://127.0.0.1/a b" --rate 10
usage_err "unknown flag" http://127.0.0.1/ --frobnicate
usage_err "bad rate" http://127.0.0.1/ --rate ten
usage_err "ramp without duration" http://127.0.0.1/ --rate 0:100
usage_err "bad stage" http://127.0.0.1/ --rate 0:100,30s 100,zz
usage_err "stage without duration among several" http://127.0.0.1/ --rate "10,5s 20"
usage_err "bad threshold" http://127.0.0.1/ --rate 10 --threshold 'p99<<2'
usage_err "bad threshold metric" http://127.0.0.1/ --rate 10 --threshold 'p0x<2ms'
usage_err "bad mode" http://127.0.0.1/ --mode chaos
usage_err "bad duration" http://127.0.0.1/ --duration 5 parsecs
usage_err "bad header" http://127.0.0.1/ -H 'no colon'
usage_err "more threads than connections" http://127.0.0.1/ -c 2 -t 4
usage_err "seed of 2^64 (not clamped)" http://127.0.0.1/ --seed 18446744073709551616
usage_err "negative seed" http://127.0.0.1/ --seed -1
"$DIORAMA" load --help | grep -q -- '--threshold'
check "--help exits 0 and documents --threshold" [ "${PIPESTATUS[0]}" = 0 ]

"$T" --port-file "$TMP/port" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
P=$(cat "$TMP/port")
U=http://127.0.0.1:$P/classify

"$DIORAMA" load "$U" --rate 100 -d 1 -q --threshold 'p99<10s,errors<1%,rate>50' >"$TMP/out" 2>&1
check "thresholds that hold: exit 0 (got $?)" [ $? = 0 ]
"$DIORAMA" load "$U" --rate 100 -d 1 -q --threshold 'p50<1us' >"$TMP/out" 2>&1
check "p50<1us fails: exit 7" [ $? = 7 ]
"$DIORAMA" load "$U" --rate 100 -d 1 -q --threshold 'rate>100000' >"$TMP/out" 2>&1
check "rate>100000 fails: exit 7" [ $? = 7 ]
"$DIORAMA" load "$U" --rate 100 -d 1 -q --mode error_injection --threshold 'errors<0.1%' \
  --json "$TMP/th.json" >"$TMP/out" 2>&1
check "error_injection breaks errors<0.1%: exit 7" [ $? = 7 ]
check "JSON records the failed threshold" [ "$(json "$TMP/th.json" 'j.thresholds[0].passed')" = false ]

# Refused connections: a port nobody listens on. Counted, reported, no crash; exit 4.
DEAD=$(free_port)
"$DIORAMA" load "http://127.0.0.1:$DEAD/" --rate 200 -d 1 -q --json "$TMP/dead.json" >"$TMP/out" 2>&1
rc=$?
check "refused: exit 4 (no response at all), got $rc" [ "$rc" = 4 ]
check "refused: connect errors counted" [ "$(json "$TMP/dead.json" 'j.errors_by_kind.connect')" -ge 190 ]
check "refused: report printed" grep -q 'connect' "$TMP/out"

# Without a terminal the progress is a plain line every 10 s; --html writes a page.
"$DIORAMA" load "$U" --rate 5 -d 11 --html "$TMP/r.html" >"$TMP/out" 2>"$TMP/err"
check "progress: exit 0" [ $? = 0 ]
check "progress: one plain line after 10 s" [ "$(grep -c 'sent .* done .* p99' "$TMP/err")" -ge 1 ]
check "progress: no terminal escapes" [ "$(grep -c $'\033' "$TMP/err")" = 0 ]
check "html: written" grep -qi '<html' "$TMP/r.html"

# SIGINT ends the run early and still reports.
"$DIORAMA" load "$U" --rate 50 -d 60 -q --json "$TMP/int.json" >"$TMP/out" 2>&1 &
LP=$!
sleep 1.5
kill -INT $LP
wait $LP
check "SIGINT: exit 0" [ $? = 0 ]
check "SIGINT: report written" [ "$(json "$TMP/int.json" 'j.requests > 20 && j.requests < 200')" = true ]
finish
