#!/usr/bin/env bash
# The live control API over real HTTP while the world runs: 10 event-stream clients (curl -N)
# and API calls at once; a PUT state reaches every stream as a label event and a following agg
# event shows the host's CPU up; rate/pause/resume/speed/chaos answer 202 and are labelled
# (source command); /api/aggregates fills a late console; the 64-stream cap answers 503; a
# client that stops reading is dropped without slowing the world; --chaos at --speed max
# writes the same labels for the same seed.
. "$(dirname "$0")/lib.sh"
start_run() { # start_run NAME args... : sets PID and CTL
  "$DIORAMA" run fleet --speed 1 --duration 10m --null --control 127.0.0.1:0 \
    --labels "$TMP/$1.labels" "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err" &
  PID=$!
  PIDS+=($PID)
  CTL=""
  for _ in $(seq 1 100); do
    CTL=$(sed -n 's#.*control API *\(http://[^/]*\)/api/world#\1#p' "$TMP/$1.err")
    [ -n "$CTL" ] && return 0
    sleep 0.1
  done
  return 1
}
poll() { # poll SECONDS command... : until it succeeds
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }

check "run with --control starts" start_run a --control-token tok
AUTH=(-H "Authorization: Bearer tok")

# 10 streams, opened before the change
for i in $(seq 1 10); do
  curl -sN --max-time 60 "$CTL/api/stream" >"$TMP/sse.$i" 2>/dev/null &
  PIDS+=($!)
done
opened() { [ "$(curl -s "$CTL/api/world" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).streams.open))')" = "$1" ]; }
check "10 streams open" poll 10 opened 10
got() { for i in $(seq 1 10); do grep -q "$1" "$TMP/sse.$i" || return 1; done; }
check "every stream got the world first" poll 10 got '^event: world'
check "every stream gets agg events" poll 10 got '^event: agg'

# API calls while the streams run
for i in $(seq 1 20); do curl -s -o /dev/null -w '%{http_code}\n' "$CTL/api/world" & done >"$TMP/codes" 2>&1
wait_codes() { [ "$(grep -c '^200$' "$TMP/codes")" = 20 ]; }
check "20 concurrent GETs answered 200" poll 10 wait_codes

check "PUT state without the token: 401" [ "$(code -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')" = 401 ]
st=$(code -X PUT "${AUTH[@]}" "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')
check "PUT critical: 202 ($st)" [ "$st" = 202 ]
check "every stream got the label event" poll 10 got '"target":"ppdb002","kind":"state","state":"critical"'
# an agg after the label shows ppdb002 hot (critical: cpu 0.97 in the built-in states)
hot_after() {
  for i in $(seq 1 10); do
    awk '/"kind":"state","state":"critical"/ {seen=1} seen && /^data: \{"t":/ && /"name":"ppdb002","state":"critical","cpu":(0\.[7-9]|1[,}])/ {ok=1} END {exit !ok}' "$TMP/sse.$i" || return 1
  done
}
check "the next agg on every stream shows ppdb002 critical with its CPU up" poll 10 hot_after

# the other changes: 202, then labelled
for c in "PUT /api/rate {\"factor\":2}" "PUT /api/rate {\"rps\":50,\"target\":\"recsys-v4\"}" \
  "POST /api/pause {}" "POST /api/resume {}" "PUT /api/speed {\"speed\":2}" \
  "PUT /api/chaos {\"enabled\":true,\"spec\":\"every=1h,hold=1m,max=1\"}"; do
  set -- $c
  st=$(code -X "$1" "${AUTH[@]}" "$CTL$2" -d "$3")
  check "$1 $2 $3: 202 ($st $(cat "$TMP/body"))" [ "$st" = 202 ]
done
check "bad JSON: 400" [ "$(code -X PUT "${AUTH[@]}" "$CTL/api/rate" -d '{"factor":')" = 400 ]
check "unknown target: 404 with a suggestion" sh -c "[ \"\$(curl -s -o '$TMP/b2' -w '%{http_code}' -X PUT -H 'Authorization: Bearer tok' '$CTL/api/rate' -d '{\"factor\":2,\"target\":\"recsys-v\"}')\" = 404 ] && grep -q 'did you mean' '$TMP/b2'"
check "wrong method: 405" [ "$(code -X GET "$CTL/api/pause")" = 405 ]
check "oversized body: 413" [ "$(head -c 70000 /dev/zero | tr '\0' x | curl -s -o /dev/null -w '%{http_code}' -X PUT "${AUTH[@]}" "$CTL/api/rate" --data-binary @-)" = 413 ]
labelled() { grep -q "\"kind\":\"$1\".*\"source\":\"command\"" "$TMP/a.labels"; }
for k in rate pause resume speed chaos; do check "label $k (source command)" poll 10 labelled $k; done
world_has() { curl -s "$CTL/api/world" | grep -q "$1"; }
check "GET /api/world: speed 2" poll 10 world_has '"speed":2,"paused":false'
check "GET /api/world: chaos on" world_has '"chaos":{"enabled":true,"spec":"every=1h'
check "GET /api/world: accounting" world_has '"accounting":{"generated":'
check "GET /api/aggregates: points" sh -c "curl -s '$CTL/api/aggregates?after=0' | grep -q '\"points\":\[{\"t\":'"

# the cap: 54 more streams fill it, the 65th gets 503
for i in $(seq 11 64); do
  curl -sN --max-time 30 "$CTL/api/stream" >/dev/null 2>&1 &
  PIDS+=($!)
done
check "64 streams open" poll 15 opened 64
check "the 65th stream: 503" [ "$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 5 "$CTL/api/stream")" = 503 ]
check "API calls still answer at the cap" [ "$(code "$CTL/api/world")" = 200 ]

kill -TERM $PID
wait $PID
check "SIGTERM ends the run: exit 0" [ $? = 0 ]

# chaos at --speed max: the same seed, the same labels; another seed, others
for n in 1 2; do
  "$DIORAMA" run fleet --speed max --duration 6h --null -q --chaos every=10m,hold=1m-5m,max=2 \
    --labels "$TMP/c$n.labels" >/dev/null 2>&1
done
"$DIORAMA" run fleet --speed max --duration 6h --null -q --chaos every=10m,hold=1m-5m,max=2,seed=9 \
  --labels "$TMP/c3.labels" >/dev/null 2>&1
check "chaos wrote labels ($(grep -c '"source":"chaos"' "$TMP/c1.labels"))" [ "$(grep -c '"source":"chaos"' "$TMP/c1.labels")" -gt 10 ]
check "chaos: the same seed, identical label files" cmp -s "$TMP/c1.labels" "$TMP/c2.labels"
check "chaos: another seed, other labels" sh -c "! cmp -s '$TMP/c1.labels' '$TMP/c3.labels'"
check "--chaos: a bad spec is a usage error (2)" sh -c "'$DIORAMA' run fleet --chaos every=x --null -q >/dev/null 2>&1; [ \$? = 2 ]"
finish
