# diorama run in real time, exporting all three signals over OTLP/HTTP, gets SIGTERM (then, in a
# second run, SIGHUP: a closed terminal or ssh session) mid-run: it stops generating, flushes,
# and nothing it accepted is lost: every generated record is delivered, the receiver counted
# exactly what diorama says it delivered, exit code 0, the summary printed.
. "$(dirname "$0")/lib.sh"
RECV=$BUILD/otlp_receiver
[ -x "$RECV" ] || skip "otlp_receiver not built"

stop_with() { # stop_with SIGNAL
local SIG=$1
rm -f "$TMP/port" "$TMP/recv.json" "$TMP/sum.json"
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
kill -"$SIG" "$dio"
wait "$dio"
rc=$?
kill -TERM "$recv"
wait "$recv"
check "$SIG: exit code 0 (got $rc; $(tail -3 "$TMP/err"))" [ "$rc" = 0 ]
check "$SIG: summary printed" grep -q "generated" "$TMP/out"
check "$SIG: summary written" [ -s "$TMP/sum.json" ]
check "$SIG: stopped by the signal" [ "$(json "$TMP/sum.json" j.stopped_by)" = signal ]
check "$SIG: ran about 3 s of simulated time, not the scenario's full length" \
  [ "$(json "$TMP/sum.json" 'j.simulated_seconds > 1 && j.simulated_seconds < 30')" = true ]
for pair in spans:spans metric_points:points logs:logs; do
  sig=${pair%%:*} key=${pair##*:}
  gen=$(json "$TMP/sum.json" "j.signals.$sig.generated")
  del=$(json "$TMP/sum.json" "j.signals.$sig.delivered")
  drop=$(json "$TMP/sum.json" "j.signals.$sig.dropped")
  infl=$(json "$TMP/sum.json" "j.signals.$sig.in_flight")
  got=$(json "$TMP/recv.json" "j.$key")
  check "$SIG $sig: something was generated ($gen)" [ "$gen" -gt 0 ]
  check "$SIG $sig: all $gen generated were delivered (delivered $del, dropped $drop, in flight $infl)" \
    [ "$del" = "$gen" -a "$drop" = 0 -a "$infl" = 0 ]
  check "$SIG $sig: the receiver counted $got, diorama delivered $del" [ "$got" = "$del" ]
done
}
stop_with TERM
stop_with HUP
finish
