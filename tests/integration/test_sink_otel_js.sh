#!/usr/bin/env bash
# A real OTLP client: the OpenTelemetry JS SDK's OTLP/HTTP protobuf exporters send N spans,
# M metric points and K log records to diorama sink, then shut down; the sink counts exactly
# that, by service and name, with no invalid items. The SDK's records carry no diorama
# verification attributes, so they are counted as untracked (no sequence checks).
. "$(dirname "$0")/lib.sh"
[ -d "$SRC/tests/node/node_modules/@opentelemetry/exporter-trace-otlp-proto" ] ||
  skip "npm test peers not installed (scripts/install-deps.sh)"

N=3000 M=40 K=2100
"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port" --json "$TMP/res.json" -q \
  >"$TMP/out" 2>"$TMP/err" &
SINK=$!
PIDS+=($SINK)
for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
node "$SRC/tests/node/otel_exporters.js" --url "http://127.0.0.1:$(cat "$TMP/port")" \
  --spans $N --points $M --logs $K --service js-shop >"$TMP/sent.json" 2>"$TMP/node.err"
rc=$?
check "SDK exporters finished (exit $rc: $(head -c 300 "$TMP/node.err"))" [ "$rc" = 0 ]
kill -TERM "$SINK"
wait "$SINK"
rc=$?
check "sink exit 0 (got $rc)" [ "$rc" = 0 ]
r=$TMP/res.json
check "spans: $(json "$r" j.received.spans) = $N" [ "$(json "$r" j.received.spans)" = $N ]
check "metric points: $(json "$r" j.received.metric_points) = $M" \
  [ "$(json "$r" j.received.metric_points)" = $M ]
check "logs: $(json "$r" j.received.logs) = $K" [ "$(json "$r" j.received.logs)" = $K ]
check "nothing invalid" \
  [ "$(json "$r" 'j.invalid.spans+j.invalid.metric_points+j.invalid.logs')" = 0 ]
check "spans under service js-shop" [ "$(json "$r" 'j.services.spans["js-shop"]')" = $N ]
check "span names counted" [ "$(json "$r" 'j.names.spans["op-0"]')" = $((N / 5)) ]
check "metric name counted" [ "$(json "$r" 'j.names.metric_points["test.requests"]')" = $M ]
check "untracked (no diorama attributes)" [ "$(json "$r" j.untracked.spans)" = $N ]
check "every request answered 2xx" [ "$(json "$r" 'j.responses["4xx"]+j.responses["5xx"]')" = 0 ]
finish
