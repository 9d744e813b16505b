#!/usr/bin/env bash
# diorama sink --grpc-listen against real OTLP/gRPC clients: the OpenTelemetry JS SDK's gRPC
# exporters (@opentelemetry/exporter-*-otlp-grpc on @grpc/grpc-js), plain and gzip, counted
# exactly; then diorama's own gRPC output through the sink's faults (UNAVAILABLE,
# RESOURCE_EXHAUSTED with RetryInfo) with --expect: nothing lost, nothing duplicated.
. "$(dirname "$0")/lib.sh"
if [ ! -d "$SRC/tests/node/node_modules/@opentelemetry/exporter-trace-otlp-grpc" ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: OTel gRPC exporters missing (scripts/install-deps.sh)" >&2; exit 1; }
  skip "npm test peers not installed (scripts/install-deps.sh)"
fi

start_sink() { # start_sink NAME [sink options...]; sets GPORT
  local name=$1; shift
  "$DIORAMA" sink --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 \
    --grpc-port-file "$TMP/$name.gport" --json "$TMP/$name.res" -q "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  SINK=$!
  PIDS+=($SINK)
  for _ in $(seq 200); do [ -s "$TMP/$name.gport" ] && break; sleep 0.05; done
  GPORT=$(cat "$TMP/$name.gport")
}

N=3000 M=40 K=2100
for comp in none gzip; do
  start_sink sdk-$comp
  node "$SRC/tests/node/otel_exporters.js" --protocol grpc --compression $comp \
    --url "http://127.0.0.1:$GPORT" --spans $N --points $M --logs $K --service js-grpc \
    >"$TMP/sent.json" 2>"$TMP/node.err"
  rc=$?
  check "$comp: SDK gRPC exporters finished (exit $rc: $(head -c 300 "$TMP/node.err"))" [ "$rc" = 0 ]
  kill -TERM "$SINK"; wait "$SINK"; rc=$?
  check "$comp: sink exit 0 (got $rc)" [ "$rc" = 0 ]
  r=$TMP/sdk-$comp.res
  check "$comp: spans $(json "$r" j.received.spans) = $N" [ "$(json "$r" j.received.spans)" = $N ]
  check "$comp: points $(json "$r" j.received.metric_points) = $M" \
    [ "$(json "$r" j.received.metric_points)" = $M ]
  check "$comp: logs $(json "$r" j.received.logs) = $K" [ "$(json "$r" j.received.logs)" = $K ]
  check "$comp: spans under js-grpc" [ "$(json "$r" 'j.services.spans["js-grpc"]')" = $N ]
  check "$comp: nothing invalid" \
    [ "$(json "$r" 'j.invalid.spans+j.invalid.metric_points+j.invalid.logs')" = 0 ]
done

# diorama -> sink over gRPC with 20% injected 503s (UNAVAILABLE), then 429 + Retry-After
# (RESOURCE_EXHAUSTED + RetryInfo): the verdict passes.
for fault in 503:20% 429:20%; do
  name=fault-${fault%%:*}
  start_sink "$name" --fail "$fault" --retry-after 1 --expect "$TMP/$name.sum" --settle 30s
  # Each 429 holds its call for Retry-After (1 s): the queued tail needs more than the default
  # 5 s of shutdown on a busy machine, and a cut tail would be counted lost (exit 5).
  "$DIORAMA" run shop --speed max --duration 2m --otlp "grpc://127.0.0.1:$GPORT" \
    --shutdown-timeout 120s --summary-json "$TMP/$name.sum" -q >/dev/null 2>"$TMP/$name.run.err"
  rc=$?
  check "$name: run exit 0 (got $rc: $(head -c 300 "$TMP/$name.run.err"))" [ "$rc" = 0 ]
  wait "$SINK"; rc=$?
  check "$name: sink verdict pass (exit $rc: $(head -c 300 "$TMP/$name.err"))" [ "$rc" = 0 ]
  r=$TMP/$name.res
  check "$name: faults injected" [ "$(json "$r" j.faults_injected)" -gt 0 ]
  check "$name: spans received = delivered" [ "$(json "$r" j.received.spans)" = \
    "$(json "$TMP/$name.sum" j.signals.spans.delivered)" ]
  check "$name: no loss, no duplicates" [ "$(json "$r" 'j.lost+j.duplicates')" = 0 ]
done
# --delay holds gRPC answers as it holds HTTP responses (it did not before): four calls sent
# at once on one connection each take at least the delay; a stop answers a held call at once.
printf '\0\0\0\0\0' >"$TMP/empty.grpc" # one uncompressed, empty ExportTraceServiceRequest
grpc_call() { # grpc_call PORT: prints "HTTP-status seconds" for each of four calls
  local u="http://127.0.0.1:$1/opentelemetry.proto.collector.trace.v1.TraceService/Export"
  curl -s --no-progress-meter --http2-prior-knowledge --parallel --parallel-immediate --max-time 60 \
    -H 'content-type: application/grpc' -H 'te: trailers' -w '%{http_code} %{time_total}\n' \
    -o /dev/null --data-binary @"$TMP/empty.grpc" "$u" "$u" "$u" "$u"
}
start_sink delay --delay 1500ms
grpc_call "$GPORT" >"$TMP/delay.calls" 2>/dev/null
kill -TERM "$SINK"; wait "$SINK"
check "delay: four answers ($(tr '\n' ' ' <"$TMP/delay.calls"))" \
  [ "$(grep -c '^200 ' "$TMP/delay.calls")" = 4 ]
check "delay: each held at least 1.5s ($(tr '\n' ' ' <"$TMP/delay.calls"))" \
  awk '$2 < 1.49 { bad = 1 } END { exit bad }' "$TMP/delay.calls"
check "delay: the calls counted" [ "$(json "$TMP/delay.res" j.requests)" = 4 ]
start_sink delay-stop --delay 30s
grpc_call "$GPORT" >"$TMP/stop.calls" 2>/dev/null &
CURL=$!
sleep 2 # the calls are in and held
kill -TERM "$SINK"; wait "$SINK"; rc=$?
wait "$CURL"
check "delay: stopping the sink exits 0 (got $rc)" [ "$rc" = 0 ]
check "delay: a stop answers held calls at once ($(tr '\n' ' ' <"$TMP/stop.calls"))" \
  [ "$(grep -c '^200 ' "$TMP/stop.calls")" = 4 ]
check "delay: not after the 30s delay ($(tr '\n' ' ' <"$TMP/stop.calls"))" \
  awk '$2 >= 29 { bad = 1 } END { exit bad }' "$TMP/stop.calls"

# The base's caps on the HTTP/2 side: with --max-connections 2 two silent connections fill
# it, a third gets SETTINGS + GOAWAY and is closed; the silent ones are closed by the header
# deadline (1s); then a real client is served again.
start_sink caps --max-connections 2 --header-timeout 1s
python3 - "$GPORT" >"$TMP/caps.py" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(15); return s
def frames(s):
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            break
        if not b:
            break
        data += b
    out, i = [], 0
    while i + 9 <= len(data):
        n = int.from_bytes(data[i:i + 3], "big"); out.append(data[i + 3]); i += 9 + n
    return out
a, b = conn(), conn()
time.sleep(0.3)
c = conn()
print("third:", frames(c))          # SETTINGS (4) ... GOAWAY (7), then closed
print("silent:", frames(a) is not None, frames(b) is not None)  # both closed by the server
PY
node "$SRC/tests/node/otel_exporters.js" --protocol grpc --url "http://127.0.0.1:$GPORT"   --spans 100 --points 1 --logs 10 --service after >/dev/null 2>"$TMP/node.err"
rc=$?
kill -TERM "$SINK"; wait "$SINK"
check "caps: third connection got GOAWAY ($(cat "$TMP/caps.py"))" grep -q "third: \[4.*7" "$TMP/caps.py"
check "caps: silent connections closed by the header deadline" grep -q "silent: True True" "$TMP/caps.py"
check "caps: a client is served after they closed (exit $rc)" [ "$rc" = 0 ]
check "caps: its spans counted" [ "$(json "$TMP/caps.res" j.received.spans)" = 100 ]
finish
