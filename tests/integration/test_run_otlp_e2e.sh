#!/usr/bin/env bash
# diorama run -> an independent OTLP/HTTP receiver (Node, decoding with the protobufjs classes
# generated from the official opentelemetry-proto): counts match diorama's accounting, ids are
# valid, spans nest in their parents, metrics agree with spans, logs point at spans, sequence
# numbers are contiguous. Once plain and once gzip-compressed through OTEL_* variables.
. "$(dirname "$0")/lib.sh"
[ -d "$SRC/tests/node/node_modules/@opentelemetry/otlp-proto-exporter-base" ] ||
  skip "npm test peers not installed (scripts/install-deps.sh)"

one() { # name, env assignments..., -- diorama args...
  local name=$1; shift
  node "$SRC/tests/node/otlp_sink.js" --port-file "$TMP/$name.port" --out "$TMP/$name.json" &
  local sink=$!
  PIDS+=($sink)
  for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  local port url
  port=$(cat "$TMP/$name.port")
  url="http://127.0.0.1:$port"
  if [ "$name" = gzip ]; then
    OTEL_EXPORTER_OTLP_ENDPOINT=$url OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
      "$DIORAMA" run inference --speed max --duration 3m --summary-json "$TMP/$name.sum" -q \
      >/dev/null 2>"$TMP/$name.err"
  else
    "$DIORAMA" run shop --otlp "$url" --speed max --duration 3m --summary-json "$TMP/$name.sum" -q \
      >/dev/null 2>"$TMP/$name.err"
  fi
  local rc=$?
  kill -TERM "$sink"
  wait "$sink"
  check "$name: diorama exit 0 (got $rc: $(tail -2 "$TMP/$name.err"))" [ "$rc" = 0 ]
  local r=$TMP/$name.json s=$TMP/$name.sum
  check "$name: no problems found by the decoder: $(json "$r" 'j.problems.slice(0,5).join("; ")')" \
    [ "$(json "$r" 'j.problems.length')" = 0 ]
  check "$name: no undecodable requests" [ "$(json "$r" j.bad_requests)" = 0 ]
  for pair in spans:spans metric_points:points logs:logs; do
    local sig=${pair%%:*} key=${pair##*:}
    local del got
    del=$(json "$s" "j.signals.$sig.delivered")
    got=$(json "$r" "j.$key")
    check "$name: $sig received $got = delivered $del" [ "$got" = "$del" -a "$del" -gt 0 ]
    check "$name: $sig generated = delivered" [ "$(json "$s" "j.signals.$sig.generated")" = "$del" ]
  done
  check "$name: one trace per completed request" [ "$(json "$r" j.traces)" = "$(json "$s" j.requests)" ]
  check "$name: http.server.requests total = server spans" \
    [ "$(json "$r" j.requests_metric_total)" = "$(json "$r" j.server_spans)" ]
}

one plain
one gzip
check "gzip case: every request was gzip-compressed" \
  [ "$(json "$TMP/gzip.json" j.gzip)" = "$(json "$TMP/gzip.json" j.requests)" ]
finish
