#!/usr/bin/env bash
# diorama run in real time, exporting all three signals over OTLP/HTTP, gets SIGTERM mid-run:
# it stops generating, flushes, and nothing it accepted is lost: every generated record is
# delivered, the receiver counted exactly what diorama says it delivered, exit code 0.
. "$(dirname "$0")/lib.sh"
RECV=$BUILD/otlp_receiver
[ -x "$RECV" ] || skip "otlp_receiver not built"

"$RECV" --port-file "$TMP/port" --stats "$TMP/recv.json" &
PIDS+=($!)
recv=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
port=$(cat "$TMP/port")
"$DIORAMA" run inference --otlp "http://127.0.0.1:$port" --metric-interval 1s --batch-timeout 200ms \
  --summary-json "$TMP/sum.json" -q >"$TMP/out" 2>"$TMP/err" &
PIDS+=($!)
dio=$!
sleep 3
kill -TERM "$dio"
wait "$dio"
rc=$?
kill -TERM "$recv"
wait "$recv"
check "exit code 0 after SIGTERM (got $rc; $(tail -3 "$TMP/err"))" [ "$rc" = 0 ]
check "summary written" [ -s "$TMP/sum.json" ]
check "stopped by the signal" [ "$(json "$TMP/sum.json" j.stopped_by)" = signal ]
check "ran about 3 s of simulated time, not the scenario's full length" \
  [ "$(json "$TMP/sum.json" 'j.simulated_seconds > 1 && j.simulated_seconds < 30')" = true ]
for pair in spans:spans metric_points:points logs:logs; do
  sig=${pair%%:*} key=${pair##*:}
  gen=$(json "$TMP/sum.json" "j.signals.$sig.generated")
  del=$(json "$TMP/sum.json" "j.signals.$sig.delivered")
  drop=$(json "$TMP/sum.json" "j.signals.$sig.dropped")
  infl=$(json "$TMP/sum.json" "j.signals.$sig.in_flight")
  got=$(json "$TMP/recv.json" "j.$key")
  check "$sig: something was generated ($gen)" [ "$gen" -gt 0 ]
  check "$sig: all $gen generated were delivered (delivered $del, dropped $drop, in flight $infl)" \
    [ "$del" = "$gen" -a "$drop" = 0 -a "$infl" = 0 ]
  check "$sig: the receiver counted $got, diorama delivered $del" [ "$got" = "$del" ]
done
finish
