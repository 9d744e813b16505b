#!/usr/bin/env bash
# diorama run -> diorama sink --expect: every record the run delivered arrives exactly once,
# also through sink faults (injected 503s with Retry-After: 0, held responses, a window of
# refused connections); a pipeline broken on purpose (non-retryable 400s, the summary of another run)
# gets verdict fail and exit code 6.
. "$(dirname "$0")/lib.sh"

start_sink() { # name, sink args...
  local name=$1; shift
  "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/$name.port" --expect "$TMP/$name.run" \
    --json "$TMP/$name.json" --settle 20s -q "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  SINK=$!
  PIDS+=($SINK)
  for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  PORT=$(cat "$TMP/$name.port")
}

# case name, expected sink exit, run args, -- , sink args
one() {
  local name=$1 want=$2 runargs=$3; shift 3
  start_sink "$name" "$@"
  "$DIORAMA" run shop --otlp "http://127.0.0.1:$PORT" $runargs --on-full block \
    --summary-json "$TMP/$name.run" -q >"$TMP/$name.runout" 2>&1
  RUNRC=$?
  wait "$SINK"
  SINKRC=$?
  check "$name: sink exit $SINKRC, want $want ($(tail -3 "$TMP/$name.out" | tr '\n' ' ') $(cat "$TMP/$name.err"))" \
    [ "$SINKRC" = "$want" ]
}

balanced() { # name: diorama's own accounting says everything was delivered
  local s=$TMP/$1.run sig
  for sig in spans metric_points logs; do
    check "$1: $sig generated = delivered" \
      [ "$(json "$s" "j.signals.$sig.generated")" = "$(json "$s" "j.signals.$sig.delivered")" ]
    check "$1: $sig received = delivered" \
      [ "$(json "$TMP/$1.json" "j.received.$sig")" = "$(json "$s" "j.signals.$sig.delivered")" ]
  done
  check "$1: run exit 0" [ "$RUNRC" = 0 ]
  check "$1: verdict pass" [ "$(json "$TMP/$1.json" j.verdict)" = pass ]
  check "$1: no loss" [ "$(json "$TMP/$1.json" j.lost)" = 0 ]
  check "$1: no duplicates" [ "$(json "$TMP/$1.json" j.duplicates)" = 0 ]
  check "$1: no invalid spans" [ "$(json "$TMP/$1.json" j.invalid.spans)" = 0 ]
}

one clean 0 "--speed max --duration 3m"
balanced clean
check "clean: every span counted under its service" \
  [ "$(json "$TMP/clean.json" 'Object.values(j.services.spans).reduce((a,b)=>a+b,0)')" = \
    "$(json "$TMP/clean.json" j.received.spans)" ]
check "clean: gen time seen on every span, log and metric" \
  [ "$(json "$TMP/clean.json" j.e2e_latency_us.count)" -gt 0 ]

# the longest --run-id the run accepts (63 characters) is tracked by the sink too
one longid 0 "--speed max --duration 30s --run-id r123456789-123456789-123456789-123456789-123456789-12345678"
balanced longid

one fail503 0 "--speed max --duration 3m" --fail 503:20% --retry-after 0 --seed 3
balanced fail503
check "fail503: faults were injected" [ "$(json "$TMP/fail503.json" j.faults_injected)" -gt 0 ]
check "fail503: diorama retried" [ "$(json "$TMP/fail503.run" j.signals.spans.retried)" -gt 0 ]

one delay 0 "--speed max --duration 2m" --delay 20ms
balanced delay

# Real time at 100x so the run spans the window (about 4 s of wall time).
one down 0 "--speed 100 --duration 6m" --down-for 2s@1s
balanced down
check "down: connections were refused or dropped during the window" \
  [ "$(json "$TMP/down.run" 'j.signals.spans.failed_requests+j.signals.logs.failed_requests')" -gt 0 ]

# Broken on purpose: 400 is not retried, so diorama drops those batches.
one fail400 6 "--speed max --duration 3m" --fail 400:10% --seed 5
check "fail400: verdict fail" [ "$(json "$TMP/fail400.json" j.verdict)" = fail ]
check "fail400: loss reported" [ "$(json "$TMP/fail400.json" j.lost)" -gt 0 ]
check "fail400: reasons listed" [ "$(json "$TMP/fail400.json" j.reasons.length)" -gt 0 ]

# --expect a summary from a longer run (different run id: another seed).
"$DIORAMA" run shop --null --speed max --duration 6m --seed 99 --summary-json "$TMP/other.sum" \
  -q >/dev/null 2>&1
start_sink wrong --settle 1s
cp "$TMP/other.sum" "$TMP/wrong.run.tmp"
"$DIORAMA" run shop --otlp "http://127.0.0.1:$PORT" --speed max --duration 3m --on-full block \
  -q >/dev/null 2>&1
mv "$TMP/wrong.run.tmp" "$TMP/wrong.run"
wait "$SINK"
rc=$?
check "wrong summary: exit 6 (got $rc)" [ "$rc" = 6 ]
check "wrong summary: verdict fail" [ "$(json "$TMP/wrong.json" j.verdict)" = fail ]
check "wrong summary: says the run never arrived" \
  [ "$(json "$TMP/wrong.json" 'j.reasons.some(r=>r.includes("nothing of run"))')" = true ]

# Without --expect: runs until SIGTERM, verdict none, exit 0.
"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/plain.port" --json "$TMP/plain.json" -q \
  >"$TMP/plain.out" 2>&1 &
SINK=$!
PIDS+=($SINK)
for _ in $(seq 200); do [ -s "$TMP/plain.port" ] && break; sleep 0.05; done
"$DIORAMA" run minimal --otlp "http://127.0.0.1:$(cat "$TMP/plain.port")" --speed max \
  --duration 1m -q >/dev/null 2>&1
kill -TERM "$SINK"
wait "$SINK"
rc=$?
check "no --expect: exit 0 after SIGTERM (got $rc)" [ "$rc" = 0 ]
check "no --expect: verdict none" [ "$(json "$TMP/plain.json" j.verdict)" = none ]
check "no --expect: spans received" [ "$(json "$TMP/plain.json" j.received.spans)" -gt 0 ]
finish
