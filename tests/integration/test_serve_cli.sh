#!/usr/bin/env bash
# diorama serve's command line and the other built-in scenarios: exit codes (busy port 1, bad
# flag or value 2, bad scenario 3 with file:line:col), every built-in serves its "METHOD /path"
# operations, answers follow the scenario (shop's payment errors, inference's models), and the
# same seed with the same request order gives the same answers byte for byte.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

expect_rc() { # expect_rc RC "stderr substring" ARGS...
  local want=$1 msg=$2
  shift 2
  "$DIORAMA" "$@" >"$TMP/o" 2>"$TMP/e"
  local rc=$?
  check "serve $*: exit $rc, want $want ($(head -c 300 "$TMP/e"))" [ "$rc" = "$want" ]
  [ -z "$msg" ] || check "serve $*: message has '$msg'" grep -qF -- "$msg" "$TMP/e"
}

start() { # start NAME SCENARIO ARGS... : sets U, SP
  local name=$1
  shift
  "$DIORAMA" serve "$@" --listen 127.0.0.1:0 --port-file "$TMP/port.$name" -q >"$TMP/out.$name" 2>&1 &
  SP=$!
  PIDS+=($SP)
  for _ in $(seq 200); do [ -s "$TMP/port.$name" ] && break; sleep 0.05; done
  U=http://127.0.0.1:$(cat "$TMP/port.$name")
}
stop() {
  kill -TERM "$SP"
  wait "$SP"
  check "stopped with 0" [ $? = 0 ]
}

expect_rc 0 "" serve --help
check "help names X-Diorama-Delay" grep -q X-Diorama-Delay "$TMP/o"
expect_rc 2 "unknown option '--nope'" serve --nope
expect_rc 2 "--max-delay" serve --max-delay soon
expect_rc 2 "--max-body" serve --max-body 12x
expect_rc 2 "--threads" serve --threads 0
expect_rc 2 "unexpected argument 'extra'" serve classify extra
expect_rc 2 "bad listen address" serve --listen 127.0.0.1:http
printf 'name: bad\nservices:\n  - name: a\n    operations:\n      - {name: GET /a, latency: soon}\n' \
  >"$TMP/bad.yaml"
expect_rc 3 "$TMP/bad.yaml:5:" serve "$TMP/bad.yaml"
expect_rc 3 "" serve no-such-scenario

# A busy port: a clear message and exit 1.
start classify classify
expect_rc 1 "Address already in use" serve classify --listen "${U#http://}"
stop

# minimal: GET /hello; a POST there is 405.
start minimal minimal
check "minimal: GET /hello 200" [ "$(curl -s -o "$TMP/b" -w '%{http_code}' "$U/hello")" = 200 ]
check "minimal: answer names the service" grep -q '"service":"hello"' "$TMP/b"
check "minimal: POST /hello 405" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/hello")" = 405 ]
stop

# inference: the chat route runs gpt-4 or llama-70b and reports their tokens.
start inference inference
check "inference: chat 200" [ "$(curl -s -o "$TMP/b" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"messages": []}' "$U/v1/chat/completions")" = 200 ]
check "inference: a chat model answered" grep -qE '"model":"(gpt-4|llama-70b)","tokens_in":[1-9]' "$TMP/b"
check "inference: embeddings route" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' "$U/v1/embeddings")" = 200 ]
stop

# shop: diorama load --scenario sends the scenario's entry routes, serve answers all of them
# (never 404/405), payment errors included.
start shop shop
"$DIORAMA" load --scenario shop "$U/" --rate 100 -d 2 -q --json "$TMP/shop.json" >/dev/null 2>&1
check "shop: load --scenario got answers" [ "$(json "$TMP/shop.json" j.requests)" = 200 ]
check "shop: no 404/405 ($(json "$TMP/shop.json" j.status_codes))" \
  [ "$(json "$TMP/shop.json" '(j.status_codes["404"]||0) + (j.status_codes["405"]||0)')" = 0 ]
check "shop: checkout answered" \
  [ "$(json "$TMP/shop.json" 'j.routes.find(r => r.path.endsWith("checkout")).requests > 0')" = true ]
stop

# Determinism: the same seed and the same sequential requests give the same answers byte for
# byte (latencies, errors by rate and by probability fault, every-N faults); another seed not.
cat >"$TMP/det.yaml" <<'YAML'
name: det
services:
  - name: front
    operations:
      - name: POST /work
        latency: {base: 2ms, jitter: 50%, tail: {p: 10%, factor: 3}}
        error_rate: 5%
        calls: [back/GET /data]
  - name: back
    operations:
      - {name: GET /data, latency: 1ms, error_rate: 10%, error_status: 503}
faults:
  - {name: slow, target: front, every: 7, effect: {latency_factor: 4}}
  - {name: limited, target: back/GET /data, probability: 5%, effect: {error_status: 429}}
YAML
for _ in $(seq 120); do
  printf 'url = "URL/work"\n'
  printf 'url = "URL/data"\n'
done >"$TMP/det.cfg"
drive() { # drive NAME SEED : sequential requests, answers in $TMP/det.NAME
  start "det$1" "$TMP/det.yaml" --seed "$2"
  sed "s|URL|$U|" "$TMP/det.cfg" >"$TMP/det.$1.cfg"
  curl -s -K "$TMP/det.$1.cfg" -X POST -H 'Content-Type: application/json' -d '{}' \
    >"$TMP/det.$1" 2>/dev/null
  curl -s "$U/metrics" | grep -E '^(http_server_requests_total|diorama_serve_faults)' >"$TMP/detm.$1"
  stop
}
drive a 3
drive b 3
drive c 4
differ() { ! cmp -s "$1" "$2"; }
check "det: 240 answers" [ "$(grep -c '"status"' "$TMP/det.a")" = 240 ]
check "det: errors happen (503 and 429)" grep -q '"status":503' "$TMP/det.a"
check "det: same seed, same answers" cmp -s "$TMP/det.a" "$TMP/det.b"
check "det: same seed, same counters" cmp -s "$TMP/detm.a" "$TMP/detm.b"
check "det: another seed, other answers" differ "$TMP/det.a" "$TMP/det.c"
finish
