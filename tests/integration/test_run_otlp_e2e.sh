#!/usr/bin/env bash
# diorama run -> an independent OTLP/HTTP receiver (Node, decoding with the protobufjs classes
# generated from the official opentelemetry-proto): counts match diorama's accounting, ids are
# valid, spans nest in their parents, metrics agree with spans, logs point at spans, sequence
# numbers are contiguous. Once plain and once gzip-compressed through OTEL_* variables.
#
# The Node receiver decodes slowly on a loaded machine (ctest -j8 on 2 cores: ~0.4 s a request),
# and at --speed max the whole run sits in the queue at the end, so the flush gets a generous
# --shutdown-timeout and requests a 60 s timeout (OTEL_EXPORTER_OTLP_TIMEOUT; the default 10 s
# ran out under ctest -j8, and the retry then delivered a second copy). If requests still time
# out, diorama must say so: the receiver then holds between `delivered` and `delivered +
# timed_out` records (more only as copies of re-sent ones), and nothing may be dropped.
. "$(dirname "$0")/lib.sh"
[ -d "$SRC/tests/node/node_modules/@opentelemetry/otlp-proto-exporter-base" ] ||
  skip "npm test peers not installed (scripts/install-deps.sh)"

one() { # name, env assignments..., -- diorama args...
  local name=$1; shift
  node "$SRC/tests/node/otlp_sink.js" --port-file "$TMP/$name.port" --out "$TMP/$name.json" &
  local sink=$!
  PIDS+=($sink)
  for _ in $(seq 600); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  local port url
  port=$(cat "$TMP/$name.port")
  url="http://127.0.0.1:$port"
  if [ "$name" = gzip ]; then
    OTEL_EXPORTER_OTLP_ENDPOINT=$url OTEL_EXPORTER_OTLP_COMPRESSION=gzip OTEL_EXPORTER_OTLP_TIMEOUT=60000 \
      "$DIORAMA" run inference --speed max --duration 3m --shutdown-timeout 120s --summary-json "$TMP/$name.sum" -q \
      >/dev/null 2>"$TMP/$name.err"
  else
    OTEL_EXPORTER_OTLP_TIMEOUT=60000 "$DIORAMA" run shop --otlp "$url" --speed max --duration 3m --shutdown-timeout 120s --summary-json "$TMP/$name.sum" -q \
      >/dev/null 2>"$TMP/$name.err"
  fi
  local rc=$?
  kill -TERM "$sink"
  wait "$sink"
  local r=$TMP/$name.json s=$TMP/$name.sum
  local tout complete=yes
  tout=$(json "$s" 'Object.values(j.signals).reduce((a, x) => a + x.timed_out, 0)')
  # 0, or 5 only because some records timed out (may have arrived); never a drop.
  check "$name: diorama exit 0, or 5 with only timed-out records (got $rc, timed out $tout: $(tail -2 "$TMP/$name.err"))" \
    [ "$rc" = 0 -o \( "$rc" = 5 -a "$tout" -gt 0 \) ]
  check "$name: no undecodable requests" [ "$(json "$r" j.bad_requests)" = 0 ]
  for pair in spans:spans metric_points:points logs:logs; do
    local sig=${pair%%:*} key=${pair##*:}
    local del got gen to re
    del=$(json "$s" "j.signals.$sig.delivered")
    gen=$(json "$s" "j.signals.$sig.generated")
    to=$(json "$s" "j.signals.$sig.timed_out")
    re=$(json "$s" "j.signals.$sig.retried")
    got=$(json "$r" "j.$key")
    # Each attempt delivers a record at most once: more than delivered + timed out can only be
    # duplicates of re-sent records (an attempt that timed out but arrived, then a retry).
    check "$name: $sig received $got within delivered $del .. + timed out $to + re-sent $re" \
      [ "$del" -gt 0 -a "$got" -ge "$del" -a "$got" -le "$((del + to + re))" ]
    check "$name: $sig generated $gen = delivered $del + timed out $to (nothing dropped)" \
      [ "$gen" = "$((del + to))" ]
    [ "$got" = "$gen" ] || complete="$sig: received $got of $gen generated"
  done
  if [ "$complete" != yes ]; then
    echo "note: $name: $complete (timed out $tout, re-sent records): whole-run checks skipped"
    return
  fi
  check "$name: no problems found by the decoder: $(json "$r" 'j.problems.slice(0,5).join("; ")')" \
    [ "$(json "$r" 'j.problems.length')" = 0 ]
  check "$name: one trace per completed request" [ "$(json "$r" j.traces)" = "$(json "$s" j.requests)" ]
  check "$name: http.server.requests total = server spans" \
    [ "$(json "$r" j.requests_metric_total)" = "$(json "$r" j.server_spans)" ]
}

one plain
one gzip
check "gzip case: every request was gzip-compressed" \
  [ "$(json "$TMP/gzip.json" j.gzip)" = "$(json "$TMP/gzip.json" j.requests)" ]
finish
