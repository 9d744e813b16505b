#!/usr/bin/env bash
# diorama sink answers as the OTLP/HTTP spec says, whatever it is sent: 200 (+ partial success
# for invalid items, protobuf or JSON like the request), 400 undecodable, 413 over the size
# limit (a gzip bomb, a declared or chunked body too large), 415 unknown type or encoding,
# 404 other paths, 405 other methods; remote write 400/415. It never crashes.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port" --json "$TMP/res.json" \
  --max-request-size 1M -q >"$TMP/out" 2>"$TMP/err" &
SINK=$!
PIDS+=($SINK)
for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$TMP/port")"

req() { # req METHOD PATH CONTENT-TYPE BODY-FILE [curl args...] -> "status content-type"
  local m=$1 p=$2 ct=$3 f=$4; shift 4
  curl -s -o "$TMP/body" -w '%{http_code} %{content_type}' -X "$m" -H "Content-Type: $ct" \
    --data-binary "@$f" "$@" "$URL$p"
}
expect() { # expect "what" "want status" "got status + type" [want type prefix]
  local got=${3%% *} type=${3#* }
  check "$1: status $got, want $2" [ "$got" = "$2" ]
  [ -z "${4:-}" ] || check "$1: content type '$type', want $4*" [ "${type#"$4"}" != "$type" ]
}

# Fixed garbage (random bytes could claim a huge snappy length and get 413 instead): an
# overlong varint, then text.
{ printf '\377%.0s' $(seq 12); printf 'this is not protobuf, gzip or snappy'; } >"$TMP/garbage"
printf '\012not snappy' >"$TMP/badsnappy" # claims 10 bytes, then an invalid tag
printf '{"resourceSpans":[{"scopeSpans":[{"spans":[' >"$TMP/badjson"
printf '' >"$TMP/empty"

expect "garbage protobuf" 400 "$(req POST /v1/traces application/x-protobuf "$TMP/garbage")" \
  application/x-protobuf
expect "truncated JSON" 400 "$(req POST /v1/logs application/json "$TMP/badjson")" application/json
expect "empty request" 200 "$(req POST /v1/metrics application/x-protobuf "$TMP/empty")" \
  application/x-protobuf
expect "empty JSON object" 200 "$(printf '{}' >"$TMP/e.json"; req POST /v1/traces application/json "$TMP/e.json")" \
  application/json
check "empty JSON request answered {}" [ "$(cat "$TMP/body")" = "{}" ]
expect "text/plain" 415 "$(req POST /v1/traces text/plain "$TMP/garbage")"
expect "content type with parameters" 400 \
  "$(req POST /v1/traces 'application/x-protobuf; charset=binary' "$TMP/garbage")"
expect "brotli" 415 "$(req POST /v1/traces application/x-protobuf "$TMP/garbage" -H 'Content-Encoding: br')"
expect "bad gzip" 400 "$(req POST /v1/traces application/x-protobuf "$TMP/garbage" -H 'Content-Encoding: gzip')"
expect "GET" 405 "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$URL/v1/traces")"
expect "other path" 404 "$(req POST /v1/profiles application/x-protobuf "$TMP/garbage")"

# 100 MB of zeros, about 100 kB gzip-compressed: refused once 1 MiB is decompressed.
head -c 100000000 /dev/zero | gzip -9 >"$TMP/bomb.gz"
expect "gzip bomb" 413 "$(req POST /v1/traces application/x-protobuf "$TMP/bomb.gz" -H 'Content-Encoding: gzip')" \
  application/x-protobuf
head -c 3000000 /dev/urandom >"$TMP/big"
expect "declared body too large" 413 "$(req POST /v1/logs application/x-protobuf "$TMP/big")"
expect "chunked body too large" 413 \
  "$(req POST /v1/logs application/x-protobuf "$TMP/big" -H 'Transfer-Encoding: chunked')"

# Remote write: garbage snappy, and a request without Content-Encoding: snappy.
expect "remote write garbage" 400 "$(req POST /api/v1/write application/x-protobuf "$TMP/badsnappy" -H 'Content-Encoding: snappy')"
expect "remote write overlong length" 400 "$(req POST /api/v1/write application/x-protobuf "$TMP/garbage" -H 'Content-Encoding: snappy')"
expect "remote write without snappy" 415 "$(req POST /api/v1/write application/x-protobuf "$TMP/garbage")"

# A real request as OTLP/JSON (diorama's file output is one Export*ServiceRequest per line).
"$DIORAMA" run minimal --speed max --duration 20s --signals traces --batch-size 64 \
  --otlp-file "$TMP/spans.jsonl" -q >/dev/null 2>&1
head -1 "$TMP/spans.jsonl" >"$TMP/one.json"
n=$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));let n=0;for(const r of j.resourceSpans)for(const s of r.scopeSpans)n+=s.spans.length;console.log(n)' "$TMP/one.json")
expect "OTLP/JSON request" 200 "$(req POST /v1/traces application/json "$TMP/one.json")" application/json
gzip -c "$TMP/one.json" >"$TMP/one.json.gz"
expect "OTLP/JSON gzip" 200 "$(req POST /v1/traces application/json "$TMP/one.json.gz" -H 'Content-Encoding: gzip')"
# The same with one span id zeroed: 200 with partial success, the span counted invalid.
node -e 'const fs=require("fs");const j=JSON.parse(fs.readFileSync(process.argv[1]));j.resourceSpans[0].scopeSpans[0].spans[0].spanId="0000000000000000";fs.writeFileSync(process.argv[2],JSON.stringify(j))' \
  "$TMP/one.json" "$TMP/zero.json"
expect "invalid span" 200 "$(req POST /v1/traces application/json "$TMP/zero.json")" application/json
check "partial success names one rejected span: $(cat "$TMP/body")" \
  [ "$(json "$TMP/body" j.partialSuccess.rejectedSpans)" = 1 ]

check "sink still running" kill -0 "$SINK"
kill -TERM "$SINK"
wait "$SINK"
rc=$?
check "sink exit 0 (got $rc)" [ "$rc" = 0 ]
check "spans counted: 3 x $n - 1" [ "$(json "$TMP/res.json" j.received.spans)" = $((3 * n - 1)) ]
check "one invalid span" [ "$(json "$TMP/res.json" j.invalid.spans)" = 1 ]
check "the same spans sent thrice: duplicates" \
  [ "$(json "$TMP/res.json" j.duplicates)" = $((2 * n - 1)) ]
check "problem recorded" [ "$(json "$TMP/res.json" j.problems.length)" -ge 1 ]
check "413s counted" [ "$(json "$TMP/res.json" 'j.responses["4xx"]')" -ge 10 ]
finish
