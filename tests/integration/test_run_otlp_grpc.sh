#!/usr/bin/env bash
# OTLP/gRPC export against a real gRPC server: @grpc/grpc-js serving the three collector
# services with the classes generated from the official opentelemetry-proto
# (tests/node/otlp_grpc_server.js). What the server decoded equals what diorama says it
# delivered, exactly, per signal; UNAVAILABLE answers (and RESOURCE_EXHAUSTED with a RetryInfo)
# are retried without loss or duplicates; the environment variables select gRPC and gzip; a bad
# URL is a usage error and an unreachable collector the documented exit code.
. "$(dirname "$0")/lib.sh"
if [ ! -d "$SRC/tests/node/node_modules/@grpc/grpc-js" ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: @grpc/grpc-js missing (scripts/install-deps.sh)" >&2; exit 1; }
  skip "npm test peers not installed (scripts/install-deps.sh)"
fi

# start_server NAME [server options...]: the grpc-js server on a free port; sets PORT.
start_server() {
  local name=$1; shift
  node "$SRC/tests/node/otlp_grpc_server.js" --port-file "$TMP/$name.port" --out "$TMP/$name.json" \
    "$@" 2>"$TMP/$name.srv.err" &
  SRV=$!
  PIDS+=($SRV)
  for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  PORT=$(cat "$TMP/$name.port")
}
stop_server() { kill -TERM "$SRV"; wait "$SRV"; }

# compare NAME: the server's counts equal the summary's delivered = generated, per signal.
compare() {
  local name=$1 s=$TMP/$1.sum r=$TMP/$1.json sig key
  for sig in spans:spans metric_points:points logs:logs; do
    key=${sig#*:} sig=${sig%:*}
    local gen del got
    gen=$(json "$s" "j.signals.$sig.generated") del=$(json "$s" "j.signals.$sig.delivered")
    got=$(json "$r" "j.counts.$key")
    check "$name: $sig generated $gen > 0" [ "$gen" -gt 0 ]
    check "$name: $sig delivered $del = generated $gen" [ "$del" = "$gen" ]
    check "$name: $sig received by grpc-js $got = delivered $del" [ "$got" = "$del" ]
  done
  check "$name: no duplicates or bad messages ($(json "$r" j.problems))" \
    [ "$(json "$r" 'j.problems.length+j.counts.bad')" = 0 ]
}

run() { # run NAME [run options...]
  local name=$1; shift
  "$DIORAMA" run shop --speed max --duration 2m --shutdown-timeout 60s \
    --summary-json "$TMP/$name.sum" -q "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
}

# 1. --otlp grpc://, the first 6 calls UNAVAILABLE: retried, nothing lost.
start_server retry --unavailable 6
run retry --otlp "grpc://127.0.0.1:$PORT"
rc=$?
stop_server
check "retry: exit 0 (got $rc: $(head -c 300 "$TMP/retry.err"))" [ "$rc" = 0 ]
compare retry
check "retry: 6 calls refused" [ "$(json "$TMP/retry.json" j.counts.refused)" = 6 ]
check "retry: retries counted" [ "$(json "$TMP/retry.sum" \
  'j.signals.spans.retried+j.signals.metric_points.retried+j.signals.logs.retried')" -gt 0 ]
check "retry: output named otlp_grpc" [ "$(json "$TMP/retry.sum" 'j.outputs[0].name')" = otlp_grpc ]

# 2. The environment: OTEL_EXPORTER_OTLP_PROTOCOL=grpc, a base endpoint, gzip.
start_server env
OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
  OTEL_EXPORTER_OTLP_COMPRESSION=gzip run env
rc=$?
stop_server
check "env: exit 0 (got $rc: $(head -c 300 "$TMP/env.err"))" [ "$rc" = 0 ]
compare env
# grpc-js decompresses before the handler sees a call, so gzip shows in the bytes sent: the
# same records (same scenario and seed) take far fewer bytes than in run 1.
per_req='Math.round(j.signals.spans.bytes/j.signals.spans.requests)'
plain=$(json "$TMP/retry.sum" "$per_req") gz=$(json "$TMP/env.sum" "$per_req")
check "env: gzip ($gz bytes per spans call vs $plain without)" [ "$((gz * 3))" -lt "$plain" ]

# 3. RESOURCE_EXHAUSTED with a RetryInfo (1 s) is retried after that delay.
start_server ri --unavailable 3 --retry-info 1
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc \
  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" run ri
rc=$?
stop_server
check "retryinfo: exit 0 (got $rc: $(head -c 300 "$TMP/ri.err"))" [ "$rc" = 0 ]
compare ri

# 3b. A slow collector (every answer held 300 ms): nothing lost, and the calls in flight go out
# on one connection per in-flight slot, shared by the signals: more than one connection (a
# server's 64 KiB HTTP/2 connection window would otherwise cap all streams together), at most
# 4 (the slots per signal), not one per signal and slot.
start_server slow --delay 300
run slow --otlp "grpc://127.0.0.1:$PORT" --duration 1m
rc=$?
stop_server
check "slow: exit 0 (got $rc: $(head -c 300 "$TMP/slow.err"))" [ "$rc" = 0 ]
compare slow
conns=$(json "$TMP/slow.json" j.counts.connections)
check "slow: calls came on 2..4 connections (got $conns)" [ "$conns" -ge 2 -a "$conns" -le 4 ]

# 4. A bad URL: usage error before anything starts.
"$DIORAMA" run shop --speed max --duration 10s --otlp grpc://127.0.0.1:99999 -q >/dev/null 2>"$TMP/bad.err"
rc=$?
check "bad port: exit 2 (got $rc)" [ "$rc" = 2 ]
check "bad port: message names the port" grep -q "port must be" "$TMP/bad.err"

# 4b. gRPC over TLS: grpc-js with a self-signed certificate made here (IP 127.0.0.1 in its
# subjectAltName). Trusted through OTEL_EXPORTER_OTLP_CERTIFICATE, https:// with the protocol
# grpc delivers everything; not trusted (grpcs://, the system's CAs), the handshake fails:
# nothing delivered, exit 4, the reason named.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=diorama-test \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>"$TMP/openssl.err"
check "tls: openssl made a certificate ($(head -c 200 "$TMP/openssl.err"))" [ -s "$TMP/cert.pem" ]
start_server tls --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_CERTIFICATE="$TMP/cert.pem" \
  run tls --otlp "https://127.0.0.1:$PORT"
rc=$?
check "tls: exit 0 (got $rc: $(head -c 300 "$TMP/tls.err"))" [ "$rc" = 0 ]
"$DIORAMA" run shop --speed max --duration 5s --otlp "grpcs://127.0.0.1:$PORT" --shutdown-timeout 2s \
  --summary-json "$TMP/untrusted.sum" >"$TMP/untrusted.out" 2>"$TMP/untrusted.err"
rc=$?
stop_server
compare tls
check "untrusted: the banner says grpcs://" grep -q "grpcs://127.0.0.1:$PORT" "$TMP/untrusted.out" \
  "$TMP/untrusted.err"
check "untrusted: exit 4 (got $rc)" [ "$rc" = 4 ]
check "untrusted: says why ($(head -c 300 "$TMP/untrusted.err"))" \
  grep -q "TLS handshake with 127.0.0.1:$PORT failed: certificate verify failed" "$TMP/untrusted.err"
check "untrusted: nothing delivered" [ "$(json "$TMP/untrusted.sum" j.signals.spans.delivered)" = 0 ]

# 5. Nobody listening: every record dropped after the retry budget, exit 4, a clear message.
dead=$(free_port)
"$DIORAMA" run shop --speed max --duration 5s --otlp "grpc://127.0.0.1:$dead" \
  --shutdown-timeout 3s --summary-json "$TMP/dead.sum" >/dev/null 2>"$TMP/dead.err"
rc=$?
check "unreachable: exit 4 (got $rc)" [ "$rc" = 4 ]
# Three more short tries: the connection's session pointer used to be copied uninitialised
# from the stack, so about half the runs crashed (exit 139) when the connect failed.
for i in 1 2 3; do
  "$DIORAMA" run minimal --speed max --duration 1s --otlp "grpc://127.0.0.1:$dead" \
    --shutdown-timeout 1s -q >/dev/null 2>&1
  rc=$?
  check "unreachable, try $i: exit 4, no crash (got $rc)" [ "$rc" = 4 ]
done
check "unreachable: says it cannot connect ($(head -c 200 "$TMP/dead.err"))" \
  grep -q "cannot connect to 127.0.0.1:$dead" "$TMP/dead.err"
for sig in spans metric_points logs; do
  check "unreachable: $sig accounting balances" [ "$(json "$TMP/dead.sum" \
    "(s=>s.generated-s.delivered-s.dropped-s.timed_out-s.in_flight)(j.signals.$sig)")" = 0 ]
done
finish
