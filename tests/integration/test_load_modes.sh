#!/usr/bin/env bash
# diorama load against tests/peers/load_target, which counts what arrives: each mode sends
# what it claims, a stall shows in the tail as the intended-time model predicts, ramps follow
# their stages, chunked and closing responses parse. Counts and structure, never timings.
. "$(dirname "$0")/lib.sh"
T=$BUILD/load_target
[ -x "$T" ] || skip "load_target not built"
command -v curl >/dev/null || skip "curl missing"

N=0
start_target() { # start_target ARGS... : sets U and STATS
  N=$((N + 1))
  "$T" --port-file "$TMP/port$N" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$TMP/port$N" ] && break; sleep 0.05; done
  P=$(cat "$TMP/port$N")
  U=http://127.0.0.1:$P/classify
  STATS=http://127.0.0.1:$P/__stats
}
stat() { curl -s "$STATS" >"$TMP/s.json" && json "$TMP/s.json" "$1"; }
load() { "$DIORAMA" load "$U" -q --json "$TMP/r.json" "$@" >"$TMP/out" 2>&1; }

# normal_traffic: JSON bodies with "text" (--mode asks for the corpus; a bare run sends GET),
# tagged DIORAMA_NORMAL_TRAFFIC, all 200.
start_target
load --rate 100 -d 2 --mode normal_traffic
check "normal: exit 0" [ $? = 0 ]
check "normal: 200 requests reached the target" [ "$(stat j.requests)" = 200 ]
check "normal: every request tagged" [ "$(stat j.tagged)" = 200 ]
check "normal: tag value" [ "$(stat j.tag_value)" = DIORAMA_NORMAL_TRAFFIC ]
check "normal: all well-formed" [ "$(stat 'j.ok + "/" + j.malformed + "/" + j.wrong_content_type')" = 200/0/0 ]
check "normal: every request carried a body" [ "$(stat j.body_min)" -gt 0 ]
check "normal: report counts 200 x 200" [ "$(json "$TMP/r.json" 'j.status_codes["200"]')" = 200 ]

# error_injection: about half malformed, and exactly those answered 4xx.
start_target
load --rate 100 -d 2 --mode error_injection --seed 7
bad=$(stat 'j.malformed + j.wrong_content_type')
check "errors: about half malformed ($bad of 200)" [ "$bad" -ge 60 -a "$bad" -le 140 ]
check "errors: the 4xx the report counts are the malformed ones" \
  [ "$(json "$TMP/r.json" 'j.status_classes["4xx"]')" = "$bad" ]
check "errors: tag value" [ "$(stat j.tag_value)" = DIORAMA_ERROR_INJECTION ]
check "errors: some wrong content types too" [ "$(stat j.wrong_content_type)" -gt 0 ]
# the same seed picks the same requests
load --rate 100 -d 2 --mode error_injection --seed 7
check "errors: same seed, same malformed count" [ "$(stat 'j.malformed + j.wrong_content_type')" = $((bad * 2)) ]
load --rate 100 -d 2 --mode error_injection --share 0
check "errors: --share 0 sends none" [ "$(stat 'j.malformed + j.wrong_content_type')" = $((bad * 2)) ]

# token_bloat: every prompt is 10,000+ characters.
start_target
load --rate 50 -d 2 --mode token_bloat
check "bloat: 100 requests all bloated" [ "$(stat 'j.requests + "/" + j.bloated')" = 100/100 ]
check "bloat: smallest body >= 10000" [ "$(stat j.body_min)" -ge 10000 ]
check "bloat: tag" [ "$(stat j.tag_value)" = DIORAMA_TOKEN_BLOAT ]

# latency_injection: a share carries X-Diorama-Delay (2-5 s), the target honours it, and the
# report's max shows it.
start_target
load --rate 20 -d 2 --mode latency_injection --share 50%
d=$(stat j.delay_header)
check "latency: about half asked to be slow ($d of 40)" [ "$d" -ge 8 -a "$d" -le 32 ]
check "latency: all 40 answered" [ "$(json "$TMP/r.json" j.requests)" = 40 ]
check "latency: max >= 2 s" [ "$(json "$TMP/r.json" 'j.latency_us.max >= 1900000')" = true ]
check "latency: p50 stays fast" [ "$(json "$TMP/r.json" 'j.latency_us.p50 < 1000000')" = true ]

# --tag-header/--tag-value and --corpus
start_target
printf 'first body\n{"text": "second", "lang": "en"}\n\nthird one\n' >"$TMP/corpus.txt"
load --rate 50 -d 1 --tag-value custom-run --corpus "$TMP/corpus.txt"
check "tag: custom value" [ "$(stat j.tag_value)" = custom-run ]
check "corpus: every body well-formed" [ "$(stat 'j.ok == j.requests && j.requests == 50')" = true ]
check "corpus: bodies from the file" [ "$(stat j.body_max)" = 32 ]
echo '["a", {"text": "b"}, "c\"q"]' >"$TMP/corpus.json"
load --rate 50 -d 1 --corpus "$TMP/corpus.json"
check "corpus: JSON array" [ "$(stat 'j.ok')" = 100 ]

# A server that stalls for 1 s once: with latency from the intended send time the requests
# due during the stall carry it, so max >= ~1 s and p99 is far above the median. A low rate
# (50/s: a sixth of the requests fall in the stall) so that a slow machine or a sanitizer
# build drains the backlog at once and the median never depends on the machine's speed.
start_target --stall-after 50
load --rate 50 -d 6
check "stall: all 300 answered" [ "$(json "$TMP/r.json" j.requests)" = 300 ]
check "stall: max >= 0.9 s" [ "$(json "$TMP/r.json" 'j.latency_us.max >= 900000')" = true ]
check "stall: p99 >= 0.5 s" [ "$(json "$TMP/r.json" 'j.latency_us.p99 >= 500000')" = true ]
check "stall: p50 below the stall" [ "$(json "$TMP/r.json" 'j.latency_us.p50 < 900000')" = true ]

# The same stall with only 20 connections: they all fill up, the requests due meanwhile wait
# for one (connection_waits, late), still carry the stall in their latency, and the report
# says what to change.
start_target --stall-after 100
load --rate 200 -d 3 -c 20
check "stall -c 20: all 600 answered" [ "$(json "$TMP/r.json" j.requests)" = 600 ]
check "stall -c 20: requests waited for a connection" \
  [ "$(json "$TMP/r.json" 'j.connection_waits > 0 && j.late > 0')" = true ]
check "stall -c 20: every send is a jitter sample or a connection wait" [ "$(json "$TMP/r.json" \
  'j.send_delay_us.count == j.scheduler_jitter_us.count + j.connection_waits')" = true ]
check "stall -c 20: send delay holds the stall" \
  [ "$(json "$TMP/r.json" 'j.send_delay_us.max >= 500000 && j.latency_us.max >= 900000')" = true ]
check "stall -c 20: the report says why" grep -q 'All 20 connections were busy when' "$TMP/out"

# Ramps: 0->200 over 4 s, 200 for 2 s, 200->0 over 4 s = 1200 requests; per-second sends in the
# timeline go up then down.
start_target
"$DIORAMA" load "$U" -q --json "$TMP/r.json" --rate 0:200,4s 200,2s 200:0,4s >"$TMP/out" 2>&1
check "ramp: exit 0" [ $? = 0 ]
check "ramp: 1200 requests" [ "$(json "$TMP/r.json" j.requests)" = 1200 ]
check "ramp: target rate is the mean (120/s)" [ "$(json "$TMP/r.json" 'Math.round(j.target_rate)')" = 120 ]
s=$(json "$TMP/r.json" 'j.timeline.slice(0,10).map(e=>Math.round(e.sent)).join(" ")')
echo "ramp per second: $s"
check "ramp: rises over the first 4 s" [ "$(json "$TMP/r.json" 'const t=j.timeline.map(e=>e.sent);t[0]<t[1]&&t[1]<t[2]&&t[2]<t[3]')" = true ]
check "ramp: holds at ~200/s" [ "$(json "$TMP/r.json" 'const t=j.timeline.map(e=>e.sent);Math.abs(t[4]-200)<=10&&Math.abs(t[5]-200)<=10')" = true ]
check "ramp: falls over the last 4 s" [ "$(json "$TMP/r.json" 'const t=j.timeline.map(e=>e.sent);t[6]>t[7]&&t[7]>t[8]&&t[8]>t[9]')" = true ]
check "ramp: first second ~25" [ "$(json "$TMP/r.json" 'Math.abs(j.timeline[0].sent-25)<=5')" = true ]

# Response framing: chunked bodies and servers that close every 7th connection.
start_target --chunked --close-every 7
load --rate 500 -d 2 --seed 3
check "chunked+close: 1000 answered, no errors" [ "$(json "$TMP/r.json" 'j.requests + "/" + j.errors')" = 1000/0 ]

# Connection cap: every answer takes 300 ms and only 2 connections may be open, so 20
# requests due in 1 s queue up. They go out late (counted), their latency counts from the
# intended time (so it grows with the queue: no coordinated omission), none is lost.
start_target
load --rate 20 -d 1 -c 2 -t 1 -H 'X-Diorama-Delay: 300ms' --json "$TMP/cap.json"
check "cap: all 20 answered" [ "$(json "$TMP/cap.json" j.requests)" = 20 ]
check "cap: most were late" [ "$(json "$TMP/cap.json" 'j.late >= 10')" = true ]
check "cap: none dropped" [ "$(json "$TMP/cap.json" j.dropped)" = 0 ]
check "cap: queueing shows in max (>= 1.5 s)" [ "$(json "$TMP/cap.json" 'j.latency_us.max >= 1500000')" = true ]
check "cap: never more than 2 connections (+1: curl)" [ "$(stat j.connections)" -le 3 ]
# ... and with a 1 s timeout the ones still waiting 1 s after the end are dropped.
load --rate 20 -d 1 -c 2 -t 1 -H 'X-Diorama-Delay: 300ms' --timeout 1s --json "$TMP/cap2.json"
check "cap+timeout: answered + dropped + timed out = 20" \
  [ "$(json "$TMP/cap2.json" 'j.requests + j.dropped + j.errors_by_kind.timeout')" = 20 ]
check "cap+timeout: some dropped" [ "$(json "$TMP/cap2.json" 'j.dropped > 0')" = true ]

# --client-delay holds the affected requests in diorama before sending them.
start_target
load --rate 20 -d 2 --mode latency_injection --share 100% --client-delay 1s
check "client delay: all 40 answered" [ "$(json "$TMP/r.json" j.requests)" = 40 ]
check "client delay: latency >= 1 s" [ "$(json "$TMP/r.json" 'j.latency_us.p50 >= 1000000')" = true ]

# Poisson arrivals: same expected count, not exact.
start_target
load --rate 200 -d 2 --arrival poisson
check "poisson: ~400 requests" [ "$(json "$TMP/r.json" 'Math.abs(j.requests - 400) < 80')" = true ]
finish
