#!/usr/bin/env bash
# OTLP/HTTP JSON (OTEL_EXPORTER_OTLP_PROTOCOL=http/json, --otlp-protocol http/json):
#  1. into diorama sink (which decodes OTLP/JSON) with --expect: every delivered record arrives
#     exactly once, plain and gzip, and through 20% injected 503s (retries lose nothing);
#  2. into an independent Node receiver that checks the OTLP/JSON rules on every body (hex ids,
#     integer enums, 64-bit integers as strings, Content-Type application/json): counts equal
#     diorama's delivered; a JSON partial success is counted as rejected, never retried;
#  3. an unknown protocol is a usage error (exit 2).
. "$(dirname "$0")/lib.sh"

run_into_sink() { # name, run args (string), sink args...
  local name=$1 runargs=$2; shift 2
  "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/$name.port" --expect "$TMP/$name.run" \
    --json "$TMP/$name.json" --settle 20s -q "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local sink=$!
  PIDS+=($sink)
  for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  # shellcheck disable=SC2086
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(cat "$TMP/$name.port")" \
    "$DIORAMA" run shop --speed max --duration 2m --seed 3 --shutdown-timeout 120s $runargs \
    --summary-json "$TMP/$name.run" -q >"$TMP/$name.runout" 2>&1
  local rc=$? sig
  wait "$sink"
  local src=$?
  check "$name: run exit 0 (got $rc: $(tail -2 "$TMP/$name.runout"))" [ "$rc" = 0 ]
  check "$name: sink verdict pass, exit 0 (got $src: $(tail -3 "$TMP/$name.out" | tr '\n' ' '))" \
    [ "$src" = 0 ]
  for sig in spans metric_points logs; do
    local gen del got
    gen=$(json "$TMP/$name.run" "j.signals.$sig.generated")
    del=$(json "$TMP/$name.run" "j.signals.$sig.delivered")
    got=$(json "$TMP/$name.json" "j.received.$sig")
    check "$name: $sig generated $gen > 0 = delivered $del = received by the sink $got" \
      [ "$gen" -gt 0 -a "$gen" = "$del" -a "$del" = "$got" ]
  done
}

# ---- 1. into diorama sink ------------------------------------------------------------------
OTEL_EXPORTER_OTLP_PROTOCOL=http/json run_into_sink env ""
run_into_sink flag_gzip "--otlp-protocol http/json --compression gzip"
OTEL_EXPORTER_OTLP_PROTOCOL=http/json run_into_sink faults "--compression gzip" \
  --fail 503:20% --retry-after 0 --seed 5
check "faults: some requests were retried ($(json "$TMP/faults.run" 'j.signals.spans.retried'))" \
  [ "$(json "$TMP/faults.run" 'j.signals.spans.retried + j.signals.logs.retried + j.signals.metric_points.retried')" -gt 0 ]

# ---- 2. an independent receiver checking the JSON form ---------------------------------------
peer() { # name, peer args..., -- run args...
  local name=$1; shift
  local pargs=()
  while [ "$1" != -- ]; do pargs+=("$1"); shift; done
  shift
  node "$SRC/tests/node/otlp_json_peer.js" --port-file "$TMP/$name.port" --out "$TMP/$name.json" \
    "${pargs[@]}" &
  local p=$!
  PIDS+=($p)
  for _ in $(seq 400); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  "$DIORAMA" run inference --otlp "http://127.0.0.1:$(cat "$TMP/$name.port")" --otlp-protocol http/json \
    --speed max --duration 1m --seed 9 --shutdown-timeout 120s --summary-json "$TMP/$name.run" \
    -q "$@" >"$TMP/$name.runout" 2>&1
  RC=$?
  kill -TERM "$p"
  wait "$p"
}
peer form -- --compression gzip
check "form: run exit 0 (got $RC: $(tail -2 "$TMP/form.runout"))" [ "$RC" = 0 ]
check "form: every body follows the OTLP/JSON rules: $(json "$TMP/form.json" j.problems)" \
  [ "$(json "$TMP/form.json" 'j.problems.length')" = 0 ]
check "form: bodies were gzip ($(json "$TMP/form.json" j.gzip) of $(json "$TMP/form.json" j.requests))" \
  [ "$(json "$TMP/form.json" 'j.gzip === j.requests && j.requests > 0')" = true ]
for pair in spans:spans metric_points:points logs:logs; do
  sig=${pair%%:*} key=${pair##*:}
  del=$(json "$TMP/form.run" "j.signals.$sig.delivered")
  got=$(json "$TMP/form.json" "j.$key")
  check "form: $sig received $got = delivered $del > 0" [ "$del" -gt 0 -a "$got" = "$del" ]
done

peer partial --reject-spans 2 --
reqs=$(json "$TMP/partial.run" 'j.signals.spans.requests')
rej=$(json "$TMP/partial.run" 'j.signals.spans.dropped_by_reason.rejected')
check "partial: exit 5 (some records rejected; got $RC)" [ "$RC" = 5 ]
check "partial: 2 spans rejected per request: $rej = 2 x $reqs, none retried" \
  [ "$rej" = "$((2 * reqs))" -a "$(json "$TMP/partial.run" 'j.signals.spans.retried')" = 0 ]
check "partial: spans delivered + rejected = generated" \
  [ "$(json "$TMP/partial.run" 'j.signals.spans.delivered + j.signals.spans.dropped')" = \
    "$(json "$TMP/partial.run" 'j.signals.spans.generated')" ]

# ---- 3. bad values -----------------------------------------------------------------------------
"$DIORAMA" run minimal --otlp-protocol http/xml --duration 1s >/dev/null 2>"$TMP/bad.err"
rc=$?
check "--otlp-protocol http/xml: exit 2, got $rc ($(cat "$TMP/bad.err"))" [ "$rc" = 2 ]
OTEL_EXPORTER_OTLP_PROTOCOL=thrift "$DIORAMA" run minimal --otlp http://127.0.0.1:9 --duration 1s \
  >/dev/null 2>"$TMP/bad2.err"
rc=$?
check "OTEL_EXPORTER_OTLP_PROTOCOL=thrift: exit 2, got $rc ($(cat "$TMP/bad2.err"))" [ "$rc" = 2 ]
check "the message names the variable" grep -q OTEL_EXPORTER_OTLP_PROTOCOL "$TMP/bad2.err"
finish
