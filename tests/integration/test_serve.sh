#!/usr/bin/env bash
# diorama serve classify as a real HTTP service, driven by curl and by diorama load: status
# codes for every validation rule, X-Diorama-Delay honoured (lower bounds only, never upper
# ones), hundreds of held requests at once, and the counts agreeing three ways: what load sent
# (its injected count), what load saw (status classes, latencies) and what serve exposes on
# /metrics. promtool checks the exposition; SIGTERM ends with exit 0 and a summary.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
command -v node >/dev/null || skip "node not installed"

PORT=$(free_port)
"$DIORAMA" serve classify --listen "127.0.0.1:$PORT" >"$TMP/out" 2>"$TMP/err" &
SERVE=$!
PIDS+=($SERVE)
wait_port "$PORT" || { cat "$TMP/err"; fail "serve did not listen"; finish; }
U=http://127.0.0.1:$PORT
for _ in $(seq 40); do grep -q routes "$TMP/err" 2>/dev/null && break; sleep 0.05; done
check "start line names the URL: $(cat "$TMP/err")" grep -q "http://127.0.0.1:$PORT" "$TMP/err"
check "start line lists the routes" grep -q 'POST /classify, GET /metrics, GET /healthz' "$TMP/err"

J='Content-Type: application/json'
req() { # req ARGS... -> "status" (body in $TMP/body, headers in $TMP/hdr)
  curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$@"
}
expect() { check "$1: status $3, want $2 ($(head -c 200 "$TMP/body"))" [ "$3" = "$2" ]; }
body_has() { check "$1: body has $2" grep -q -- "$2" "$TMP/body"; }

expect "classify" 200 "$(req -X POST -H "$J" -d '{"text": "Dear team, I would like to apply for the role"}' "$U/classify")"
body_has "classify" '"label":"job_application"'
body_has "classify" '"model":"mail-classifier-small"'
body_has "classify" '"tokens_in":12,'
expect "healthz" 200 "$(req "$U/healthz")"
expect "unknown path" 404 "$(req -X POST -H "$J" -d '{}' "$U/nope")"
body_has "404" '"error"'
expect "wrong method" 405 "$(req "$U/classify")"
check "405 has Allow: POST" grep -qi '^Allow: POST' "$TMP/hdr"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$TMP/big"
expect "declared body over --max-body" 413 "$(req -X POST -H "$J" --data-binary "@$TMP/big" "$U/classify")"
expect "chunked body over --max-body" 413 \
  "$(req -X POST -H "$J" -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/big" "$U/classify")"
expect "text/plain" 415 "$(req -X POST -H 'Content-Type: text/plain' -d '{"text": "x"}' "$U/classify")"
expect "no content type" 415 "$(req -X POST -H 'Content-Type:' -d '{"text": "x"}' "$U/classify")"
expect "JSON cut in half" 400 "$(req -X POST -H "$J" -d '{"text": "Dear te' "$U/classify")"
expect "JSON array" 400 "$(req -X POST -H "$J" -d '["text"]' "$U/classify")"
expect "no text" 422 "$(req -X POST -H "$J" -d '{"input": null, "lang": "en"}' "$U/classify")"
expect "empty text" 422 "$(req -X POST -H "$J" -d '{"text": ""}' "$U/classify")"
expect "malformed delay" 400 "$(req -X POST -H "$J" -H 'X-Diorama-Delay: soon' -d '{"text": "x"}' "$U/classify")"
body_has "malformed delay" 'X-Diorama-Delay'
expect "delay over the cap" 400 "$(req -X POST -H "$J" -H 'X-Diorama-Delay: 45s' -d '{"text": "x"}' "$U/classify")"
body_has "delay over the cap" 'cap of 30s'

# X-Diorama-Delay: 1500ms is honoured (on top of ~150 ms of modelled latency).
t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H "$J" -H 'X-Diorama-Delay: 1500ms' \
  -d '{"text": "x"}' "$U/classify")
check "1500ms delay takes >= 1.5 s (took $t s)" node -e "process.exit($t >= 1.5 ? 0 : 1)"
t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H "$J" -H 'X-Diorama-Delay: 700' \
  -d '{"text": "x"}' "$U/classify")
check "a bare 700 is 700 ms (took $t s)" node -e "process.exit($t >= 0.7 ? 0 : 1)"

# 300 requests at once, each held 1 s: all answered 200, none earlier than 1 s.
for _ in $(seq 300); do printf 'url = "%s/classify"\noutput = "/dev/null"\n' "$U"; done >"$TMP/many"
curl -s -Z --parallel-max 300 --parallel-immediate -K "$TMP/many" -X POST -H "$J" \
  -H 'X-Diorama-Delay: 1s' -d '{"text": "hello"}' -w '%{http_code} %{time_total}\n' >"$TMP/par" 2>/dev/null
check "300 concurrent: all 200 ($(sort "$TMP/par" | cut -c1-3 | uniq -c | tr '\n' ' '))" \
  [ "$(grep -c '^200 ' "$TMP/par")" = 300 ]
check "300 concurrent: each took >= 1 s" \
  [ "$(awk '$2 < 1.0' "$TMP/par" | wc -l)" = 0 ]

# 1,000 held at once: 1,000 requests within a second, each held 2 s.
"$DIORAMA" load "$U/classify" -X POST --rate 1000 -d 1 -c 1200 -H 'X-Diorama-Delay: 2s' -q \
  --json "$TMP/k.json" >/dev/null 2>&1
check "1000 held: all 200" [ "$(json "$TMP/k.json" 'j.status_codes["200"]')" = 1000 ]
check "1000 held: none faster than 2 s" [ "$(json "$TMP/k.json" 'j.latency_us.min >= 2000000')" = true ]

metric() { # metric REGEX : the sum of the samples of /metrics lines matching REGEX
  curl -s "$U/metrics" | grep -v '^#' | grep -E "$1" | awk '{s += $NF} END {print s + 0}'
}
injected() { # injected JSON STDERR : load's injected count (the JSON field; -v as a cross-check)
  local n
  n=$(json "$1" j.injected)
  [ "$n" = "$(sed -n 's/.*injected \([0-9]*\).*/\1/p' "$2")" ] || n="JSON $n != -v"
  echo "${n:-missing}"
}

# error_injection: the 4xx load saw are exactly the requests it made malformed, and serve
# counted exactly those as 4xx of that traffic type.
"$DIORAMA" load "$U/classify" --mode error_injection --rate 200 -d 3 -q -v \
  --json "$TMP/e.json" >/dev/null 2>"$TMP/e.err"
inj=$(injected "$TMP/e.json" "$TMP/e.err")
saw=$(json "$TMP/e.json" 'j.status_classes["4xx"]')
srv=$(metric 'http_server_requests_total\{.*status="4[0-9][0-9]",traffic_type="DIORAMA_ERROR_INJECTION"\}')
check "errors: some injected ($inj of 600)" [ "$inj" -gt 100 ]
check "errors: load saw 4xx = injected ($saw vs $inj)" [ "$saw" = "$inj" ]
check "errors: serve counted 4xx = injected ($srv vs $inj)" [ "$srv" = "$inj" ]
check "errors: the rest answered 200" [ "$(json "$TMP/e.json" 'j.status_codes["200"]')" = $((600 - inj)) ]

# latency_injection: the responses at >= 2 s (from load's HDR histogram) are exactly the
# requests that carried X-Diorama-Delay, and serve counted each as delayed.
d0=$(metric '^diorama_serve_delayed_total')
"$DIORAMA" load "$U/classify" --mode latency_injection --rate 50 -d 4 --share 30% -q -v \
  --json "$TMP/l.json" >/dev/null 2>"$TMP/l.err"
inj=$(injected "$TMP/l.json" "$TMP/l.err")
slow=$(cd "$SRC/tests/node" && node -e '
  const hdr = require("hdr-histogram-js");
  const It = require("hdr-histogram-js/dist/RecordedValuesIterator").default;
  const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const it = new It(hdr.decodeFromCompressedBase64(j.hdr));
  let n = 0;
  while (it.hasNext()) { const v = it.next(); if (v.valueIteratedTo >= 2000000) n += v.countAtValueIteratedTo; }
  console.log(n)' "$TMP/l.json")
d1=$(metric '^diorama_serve_delayed_total')
check "latency: some injected ($inj of 200)" [ "$inj" -gt 20 ]
check "latency: responses >= 2 s = injected ($slow vs $inj)" [ "$slow" = "$inj" ]
check "latency: serve delayed = injected ($((d1 - d0)) vs $inj)" [ "$((d1 - d0))" = "$inj" ]
check "latency: all 200" [ "$(json "$TMP/l.json" 'j.status_codes["200"]')" = 200 ]

# token_bloat: input tokens per request jump by an order of magnitude.
tok() { metric 'llm_tokens_used_total\{route="POST /classify",direction="in"\}'; }
t0=$(tok)
"$DIORAMA" load "$U/classify" -X POST --rate 50 -d 2 -q --json "$TMP/n.json" >/dev/null 2>&1
t1=$(tok)
"$DIORAMA" load "$U/classify" --mode token_bloat --rate 25 -d 2 -q --json "$TMP/b.json" >/dev/null 2>&1
t2=$(tok)
normal=$(((t1 - t0) / 100))
bloat=$(((t2 - t1) / 50))
check "tokens: normal requests count tokens ($normal per request)" [ "$normal" -gt 20 ]
check "tokens: bloat >= 10x normal ($bloat vs $normal per request)" [ "$bloat" -ge $((10 * normal)) ]

if command -v promtool >/dev/null; then
  curl -s "$U/metrics" >"$TMP/metrics.txt"
  check "promtool check metrics: $(promtool check metrics <"$TMP/metrics.txt" 2>&1 | head -3)" \
    promtool check metrics <"$TMP/metrics.txt"
else
  echo "note: promtool not installed, exposition not linted"
fi
check "in-flight gauge back to 1 (the scrape itself)" [ "$(metric '^http_server_active_requests')" = 1 ]

kill -TERM "$SERVE"
wait "$SERVE"
rc=$?
check "SIGTERM: exit 0 (got $rc)" [ "$rc" = 0 ]
check "summary: request count" grep -q 'requests in' "$TMP/out"
check "summary: status classes" grep -qE '2xx [0-9]+  3xx 0  4xx [0-9]+' "$TMP/out"
check "summary: delayed" grep -qE 'delayed  [0-9]+' "$TMP/out"
check "summary: faults" grep -q 'latency_spike' "$TMP/out"
finish
