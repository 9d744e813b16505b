#!/usr/bin/env bash
# --remote-write against diorama sink and a scriptable receiver (rw_fake_receiver.py):
#   - 2.0 into the sink: the sink counts exactly the samples diorama delivered and answers with
#     the X-Prometheus-Remote-Write-*-Written headers diorama checks; the recorded bodies,
#     decoded independently (protobufjs + snappyjs, tests/node/rw_decode.js), hold the same
#     samples and series, sorted labels, metadata and created timestamps, in time order;
#   - faults: 30% 503s and the receiver down for 3 s: nothing lost, the accounting balances;
#   - a 1.0-only receiver (415 to 2.0): diorama falls back to 1.0 and delivers everything;
#   - headers and credentials (basic from the URL, bearer from the environment, never printed);
#   - 400 is not retried (dropped, rejected); an unreachable receiver: exit 4; a bad URL: exit 2.
. "$(dirname "$0")/lib.sh"
NODE_DIR=$SRC/tests/node
[ -d "$NODE_DIR/node_modules/snappyjs" ] && [ -d "$NODE_DIR/node_modules/protobufjs" ] || {
  [ "${CI:-}" = true ] && { echo "FAIL: tests/node modules missing (npm ci in tests/node)"; exit 1; }
  skip "tests/node modules missing (scripts/install-deps.sh runs npm ci there)"
}
START=1767225600 # 2026-01-01T00:00:00Z
sum_json() { json "$1" "$2"; }
absent() { ! grep -q "$@"; }
rwline() { grep '^remote write:' "$1"; }
num_before() { rwline "$1" | grep -o "[0-9]* $2" | head -1 | cut -d' ' -f1; }

start_sink() { # DIR [sink flags...]: SINK_PID, SINK_URL
  local d=$1
  shift
  mkdir -p "$d/rec"
  "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$d/port" --record "$d/rec" --json "$d/sink.json" \
    -q "$@" >"$d/sink.out" 2>"$d/sink.err" &
  SINK_PID=$!
  PIDS+=($SINK_PID)
  for _ in $(seq 400); do [ -s "$d/port" ] && break; sleep 0.05; done
  SINK_URL="http://127.0.0.1:$(cat "$d/port")/api/v1/write"
}
stop_sink() {
  kill -TERM "$SINK_PID"
  wait "$SINK_PID"
}

# (--shutdown-timeout 120s: with --speed max the tail of the run is still queued when generation
# ends; on a loaded machine the default 5 s would cut it short, docs/exporting.md#shutdown.)
# ---- 2.0 into the sink --------------------------------------------------------------------
start_sink "$TMP/s1"
"$DIORAMA" run fleet --speed max --start "$START" --duration 20m -q --remote-write-version 2 \
  --remote-write "$SINK_URL" --summary-json "$TMP/s1.json" --shutdown-timeout 120s \
  >"$TMP/s1.out" 2>"$TMP/s1.err"
rc=$?
stop_sink
check "2.0 into the sink: exit 0 ($rc: $(tail -2 "$TMP/s1.err"))" [ "$rc" = 0 ]
S=$(num_before "$TMP/s1.out" samples)
SER=$(num_before "$TMP/s1.out" series)
check "summary: version 2, no fallback ($(rwline "$TMP/s1.out"))" grep -q 'version 2; receiver wrote' "$TMP/s1.out"
check "the sink's Written headers confirm every sample" grep -q "receiver wrote $S samples, 0 histograms, 0 exemplars; 0 answers disagreed" "$TMP/s1.out"
got=$(sum_json "$TMP/s1/sink.json" j.received.samples)
check "the sink received $got samples = $S delivered" [ "$got" = "$S" ]
check "no invalid samples at the sink" [ "$(sum_json "$TMP/s1/sink.json" j.invalid.samples)" = 0 ]
node "$NODE_DIR/rw_decode.js" 2 "$TMP"/s1/rec/*-samples.snappy >"$TMP/s1.dec" 2>&1
check "independent decode runs ($(head -c 300 "$TMP/s1.dec"))" json "$TMP/s1.dec" 'j.requests>0'
check "decoded samples = $S" [ "$(json "$TMP/s1.dec" j.samples)" = "$S" ]
check "decoded series = $SER" [ "$(json "$TMP/s1.dec" j.series)" = "$SER" ]
check "no rule broken ($(json "$TMP/s1.dec" j.problems))" [ "$(json "$TMP/s1.dec" 'j.problems.length')" = 0 ]
check "metadata: counters, gauges and histograms ($(json "$TMP/s1.dec" j.types))" \
  json "$TMP/s1.dec" 'j.types.counter>0&&j.types.gauge>0&&j.types.histogram>0||process.exit(1)'
check "every counter and histogram series has a created timestamp" [ "$(json "$TMP/s1.dec" j.no_created)" = 0 ]
check "help texts are sent" json "$TMP/s1.dec" 'j.help>0||process.exit(1)'
# the summary JSON carries what the text line says (docs/summary-json.md)
rwj=j.remote_write
check "summary JSON: remote_write samples delivered = $S, series = $SER, version 2, no fallback ($(json "$TMP/s1.json" "$rwj"))" \
  json "$TMP/s1.json" "$rwj.samples_delivered===$S&&$rwj.series===$SER&&$rwj.version===2&&$rwj.requested_version===2&&$rwj.fell_back===false||process.exit(1)"
check "summary JSON: Written samples/histograms/exemplars = $S/0/0, no disagreement" \
  json "$TMP/s1.json" "$rwj.written.samples===$S&&$rwj.written.histograms===0&&$rwj.written.exemplars===0&&$rwj.written.mismatched_answers===0&&$rwj.written.answers_without_headers===0||process.exit(1)"
check "summary JSON: samples sent >= delivered" json "$TMP/s1.json" "$rwj.samples_sent>=$S||process.exit(1)"
pts=$(sum_json "$TMP/s1.json" j.signals.metric_points.generated)
check "every point delivered ($pts)" [ "$(sum_json "$TMP/s1.json" j.signals.metric_points.delivered)" = "$pts" ]

# ---- faults: 30% 503s, down for 3 s ------------------------------------------------------------
start_sink "$TMP/s2" --fail 503:30% --down-for 3s@1s
"$DIORAMA" run minimal --speed 400 --on-full block --start "$START" --duration 1h \
  --remote-write-version 2 --remote-write "$SINK_URL" --summary-json "$TMP/s2.json" \
  --shutdown-timeout 120s >"$TMP/s2.out" 2>"$TMP/s2.err"
rc=$?
stop_sink
check "faults: exit 0 ($rc: $(tail -2 "$TMP/s2.err"))" [ "$rc" = 0 ]
S2=$(num_before "$TMP/s2.out" samples)
check "faults: the sink received $(sum_json "$TMP/s2/sink.json" j.received.samples) = $S2 delivered" \
  [ "$(sum_json "$TMP/s2/sink.json" j.received.samples)" = "$S2" ]
m=j.signals.metric_points
check "faults: generated = delivered, nothing dropped, timed out or in flight" \
  json "$TMP/s2.json" "$m.generated===$m.delivered&&$m.dropped===0&&$m.timed_out===0&&$m.in_flight===0||process.exit(1)"
check "faults: requests failed and were retried ($(json "$TMP/s2.json" "$m.failed_requests") failed)" \
  json "$TMP/s2.json" "$m.failed_requests>0&&$m.retried>0||process.exit(1)"
check "faults: 503s were injected" json "$TMP/s2/sink.json" 'j.faults_injected>0||process.exit(1)'
check "faults: connections were refused while the sink was down" grep -qi "connect" "$TMP/s2.err"

# ---- a 1.0-only receiver: 415 to 2.0 ---------------------------------------------------------
fake() { # DIR V2_STATUS: FAKE_URL (with u:S3cr3t-pw@), FAKE_PID
  mkdir -p "$1"
  python3 "$SRC/tests/integration/rw_fake_receiver.py" "$1/port" "$1" "$2" 2>"$1/err" &
  FAKE_PID=$!
  PIDS+=($FAKE_PID)
  for _ in $(seq 400); do [ -s "$1/port" ] && break; sleep 0.05; done
  FAKE_URL="http://u:S3cr3t-pw@127.0.0.1:$(cat "$1/port")/api/v1/write"
}
fake "$TMP/f1" 415
"$DIORAMA" run minimal --speed max --start "$START" --duration 10m --remote-write-version 2 \
  --remote-write "$FAKE_URL" --summary-json "$TMP/f1.json" --shutdown-timeout 120s \
  >"$TMP/f1.out" 2>"$TMP/f1.err"
rc=$?
check "415: exit 0 ($rc: $(tail -2 "$TMP/f1.err"))" [ "$rc" = 0 ]
check "415: logged once ($(grep -c '415' "$TMP/f1.err"))" [ "$(grep -c 'answered 415 to remote write 2.0; using 1.0' "$TMP/f1.err")" = 1 ]
check "415: the summary says so" grep -q 'version 1 (fell back from 2 after a 415)' "$TMP/f1.out"
check "415: the summary JSON says so too ($(json "$TMP/f1.json" j.remote_write))" \
  json "$TMP/f1.json" 'j.remote_write.fell_back===true&&j.remote_write.version===1&&j.remote_write.requested_version===2||process.exit(1)'

first=$(head -1 "$TMP/f1/requests.jsonl")
check "415: the first request was 2.0 and refused" json <(echo "$first") 'j.version===2&&j.status===415||process.exit(1)'
check "415: every later request is 1.0" [ "$(tail -n +2 "$TMP/f1/requests.jsonl" | grep -c '"version": 2')" = 0 ]
node "$NODE_DIR/rw_decode.js" 1 "$TMP"/f1/*-v1.snappy >"$TMP/f1.dec" 2>&1
F1=$(num_before "$TMP/f1.out" samples)
check "415: decoded 1.0 samples $(json "$TMP/f1.dec" j.samples) = $F1 delivered" [ "$(json "$TMP/f1.dec" j.samples)" = "$F1" ]
check "415: no rule broken ($(json "$TMP/f1.dec" j.problems))" [ "$(json "$TMP/f1.dec" 'j.problems.length')" = 0 ]
h=$(sed -n 2p "$TMP/f1/requests.jsonl")
hdr() { echo "$h" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const h=JSON.parse(d).headers;const k=Object.keys(h).find(k=>k.toLowerCase()===process.argv[1].toLowerCase());console.log(k?h[k]:"")})' "$1"; }
check "1.0 headers: Content-Encoding snappy" [ "$(hdr Content-Encoding)" = snappy ]
check "1.0 headers: Content-Type" [ "$(hdr Content-Type)" = application/x-protobuf ]
check "1.0 headers: version 0.1.0" [ "$(hdr X-Prometheus-Remote-Write-Version)" = 0.1.0 ]
check "headers: User-Agent diorama/ ($(hdr User-Agent))" grep -q '^diorama/' <<<"$(hdr User-Agent)"
check "basic auth from the URL" [ "$(hdr Authorization)" = "Basic $(printf 'u:S3cr3t-pw' | base64)" ]
h=$first
check "2.0 headers: Content-Type" [ "$(hdr Content-Type)" = 'application/x-protobuf;proto=io.prometheus.write.v2.Request' ]
check "2.0 headers: version 2.0.0" [ "$(hdr X-Prometheus-Remote-Write-Version)" = 2.0.0 ]
check "the password is never printed" absent 'S3cr3t-pw' "$TMP/f1.out" "$TMP/f1.err"
check "the banner shows the URL masked" grep -q 'remote write  http://\*\*\*\*@127.0.0.1' "$TMP/f1.err"

# ---- bearer token; 400 is not retried -----------------------------------------------------------
fake "$TMP/f2" 400
DIORAMA_REMOTE_WRITE_BEARER=tok-123 "$DIORAMA" run minimal --speed max --start "$START" \
  --duration 2m --remote-write-version 2 --remote-write "${FAKE_URL/u:S3cr3t-pw@/}" \
  --summary-json "$TMP/f2.json" >"$TMP/f2.out" 2>"$TMP/f2.err"
rc=$?
check "400: nothing delivered, exit 4 (got $rc)" [ "$rc" = 4 ]
check "400: all dropped as rejected, none retried" \
  json "$TMP/f2.json" "$m.dropped_by_reason.rejected===$m.generated&&$m.retried===0&&$m.requests===$m.failed_requests||process.exit(1)"
h=$(head -1 "$TMP/f2/requests.jsonl")
check "bearer token from the environment" [ "$(hdr Authorization)" = "Bearer tok-123" ]
check "the token is never printed" absent 'tok-123' "$TMP/f2.out" "$TMP/f2.err"
DIORAMA_REMOTE_WRITE_BEARER=tok-123 "$DIORAMA" run minimal --duration 1s --remote-write "$FAKE_URL" \
  >/dev/null 2>"$TMP/both.err"
rc=$?
check "basic and bearer together: exit 2 (got $rc)" [ "$rc" = 2 ]
check "... with a message" grep -q 'use one' "$TMP/both.err"

# ---- unreachable, bad URL --------------------------------------------------------------------
dead=$(free_port)
"$DIORAMA" run minimal --speed max --duration 1m --remote-write "http://u:S3cr3t-pw@127.0.0.1:$dead/w" \
  --shutdown-timeout 2s >"$TMP/d.out" 2>"$TMP/d.err"
rc=$?
check "unreachable: exit 4 (got $rc)" [ "$rc" = 4 ]
check "unreachable: the warning names the URL masked ($(head -2 "$TMP/d.err" | tail -1))" grep -q "http://\*\*\*\*@127.0.0.1:$dead/w" "$TMP/d.err"
check "unreachable: password not printed" absent 'S3cr3t-pw' "$TMP/d.out" "$TMP/d.err"
"$DIORAMA" run minimal --remote-write 'http://u:S3cr3t-pw@/nohost' >/dev/null 2>"$TMP/b.err"
rc=$?
check "bad URL: exit 2 (got $rc)" [ "$rc" = 2 ]
check "bad URL: message, password masked ($(cat "$TMP/b.err"))" grep -q "remote-write: 'http://\*\*\*\*@/nohost'" "$TMP/b.err"
finish
