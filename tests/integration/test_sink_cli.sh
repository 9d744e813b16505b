#!/usr/bin/env bash
# diorama sink at the edges of its command line (issue 8, items 12 and 17):
#  - SIGHUP ends it like SIGTERM: the result is printed, exit 0;
#  - --delay is capped (31s refused, exit 2) and a stop answers held responses at once: with
#    --delay 20s, a held request is answered and the sink exits within 5 s of one SIGTERM
#    (a failure-mode bound: holding the delay out takes 19 s);
#  - --record into a missing directory (or onto a file) is refused at start, exit 1, with the
#    path and the reason;
#  - the text result says why e2e latency is not given for a --speed max run, and puts a reason
#    next to a reordered count;
#  - an exporter's warning about the sink's 413 shows the status message, not protobuf bytes.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

start_sink() { # start_sink ARGS... : sets SINK, URL
  rm -f "$TMP/port"
  "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port" -q "$@" >"$TMP/out" 2>"$TMP/err" &
  SINK=$!
  PIDS+=($SINK)
  for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  URL="http://127.0.0.1:$(cat "$TMP/port")"
}
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
printf '{}' >"$TMP/empty.json"

# SIGHUP: a result and exit 0, as with SIGTERM.
start_sink
kill -HUP "$SINK"
wait "$SINK"
rc=$?
check "HUP: exit 0 (got $rc)" [ "$rc" = 0 ]
check "HUP: the result is printed" grep -q '^sink: ' "$TMP/out"

# --delay: capped, and cut short by a stop.
timeout 10 "$DIORAMA" sink --listen 127.0.0.1:0 --delay 31s -q >/dev/null 2>"$TMP/err"
rc=$?
check "delay 31s: exit 2 (got $rc)" [ "$rc" = 2 ]
check "delay 31s: the message gives the cap" grep -q -- '--delay: expected a duration of at most 30s' "$TMP/err"
start_sink --delay 20s
curl -s -m 25 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "@$TMP/empty.json" "$URL/v1/traces" >"$TMP/held" &
CURL=$!
sleep 0.5 # the request is in, held
t0=$(date +%s%N)
kill -TERM "$SINK"
wait "$SINK"
rc=$?
ms=$(elapsed_ms "$t0")
wait "$CURL"
check "delay 20s + SIGTERM: exit 0 (got $rc)" [ "$rc" = 0 ]
check "delay 20s + SIGTERM: exited in ${ms} ms (bound 5000)" [ "$ms" -lt 5000 ]
check "delay 20s + SIGTERM: the held request was answered 200 ($(cat "$TMP/held"))" \
  [ "$(cat "$TMP/held")" = 200 ]

# --record DIR must exist and be a writable directory.
timeout 10 "$DIORAMA" sink --listen 127.0.0.1:0 --record "$TMP/nope/rec" -q >/dev/null 2>"$TMP/err"
rc=$?
check "record into a missing dir: exit 1 (got $rc)" [ "$rc" = 1 ]
check "record into a missing dir: message names it" \
  grep -q -- "--record $TMP/nope/rec: No such file or directory" "$TMP/err"
touch "$TMP/afile"
timeout 10 "$DIORAMA" sink --listen 127.0.0.1:0 --record "$TMP/afile" -q >/dev/null 2>"$TMP/err"
rc=$?
check "record onto a file: exit 1 (got $rc)" [ "$rc" = 1 ]
check "record onto a file: message" grep -q 'not a directory' "$TMP/err"
mkdir "$TMP/rec"
start_sink --record "$TMP/rec"
curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary "@$TMP/empty.json" "$URL/v1/traces"
kill -TERM "$SINK"
wait "$SINK"
check "record into a directory: exit 0 and a file written" [ $? = 0 -a "$(ls "$TMP/rec" | wc -l)" = 1 ]

# --speed max: generation times are simulated, so no end-to-end latency is given, with why.
start_sink --expect "$TMP/run.json"
timeout 60 "$DIORAMA" run inference --speed max --duration 2m --otlp "$URL" --summary-json "$TMP/run.json" \
  -q >/dev/null 2>"$TMP/run.err"
for _ in $(seq 300); do kill -0 "$SINK" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$SINK" 2>/dev/null
wait "$SINK"
rc=$?
check "speed max: verdict pass (exit $rc)" [ "$rc" = 0 ]
check "speed max: e2e latency n/a with the reason" \
  grep -q 'e2e latency n/a (--speed max run: generation times are simulated)' "$TMP/out"
check "speed max: no clamped figure like 1h0m" [ "$(grep -c '1h0m' "$TMP/out")" = 0 ]
if grep -q 'reordered [1-9]' "$TMP/out"; then
  check "reordered count comes with its reason" \
    grep -q 'reordered [0-9]* (concurrent batches; not a failure)' "$TMP/out"
fi

# A 413 from the sink (a google.rpc.Status in protobuf) is shown by the exporter as its code and
# message, never as raw bytes.
start_sink --max-request-size 1k
timeout 60 "$DIORAMA" run minimal --speed max --duration 5s --otlp "$URL" >/dev/null 2>"$TMP/run.err"
kill -TERM "$SINK"
wait "$SINK"
check "413: the warning gives the status message" \
  grep -q 'HTTP 413: status 8: request body over the limit (--max-request-size)' "$TMP/run.err"
check "413: nothing but printable text on stderr" \
  [ "$(LC_ALL=C grep -c '[^[:print:][:space:]]' "$TMP/run.err")" = 0 ]
finish
