#!/usr/bin/env bash
# diorama up and the control API over real HTTP: the banner names the URLs, GET shows the world,
# a PUT changes ppdb002's state at the next tick (GET, the label file with source: command, and
# the host's CPU on a real /metrics scrape all show it), bad requests get the documented JSON
# errors, a token guards changes, and SIGTERM ends it with exit 0.
. "$(dirname "$0")/lib.sh"
start_up() { # start_up NAME args... : sets PID and CTL, MET (base URLs)
  "$DIORAMA" up --control 127.0.0.1:0 --prom-listen 127.0.0.1:0 --serve 127.0.0.1:0 --metric-interval 1s \
    --labels "$TMP/$1.labels" "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err" &
  PID=$!
  PIDS+=($PID)
  CTL="" MET=""
  for _ in $(seq 1 100); do
    CTL=$(sed -n 's#.*control API *\(http://[^/]*\)/api/world#\1#p' "$TMP/$1.err")
    MET=$(sed -n 's#.*/metrics *\(http://[^/]*\)/metrics#\1#p' "$TMP/$1.err")
    [ -n "$CTL" ] && [ -n "$MET" ] && return 0
    sleep 0.1
  done
  return 1
}
poll() { # poll SECONDS command... : until it succeeds
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }

check "up starts and prints its URLs" start_up a
check "up: the default scenario is fleet" grep -q 'running fleet' "$TMP/a.err"
check "GET /api/world: 200" [ "$(code "$CTL/api/world")" = 200 ]
check "GET /api/world: 27 entities (20 hosts, 6 services, 1 model)" [ "$(json "$TMP/body" 'j.entities.length')" = 27 ]
check "ppdb002 starts healthy" [ "$(json "$TMP/body" 'j.entities.find(e=>e.name=="ppdb002").state')" = healthy ]
busy() { curl -s "$MET/metrics" | awk -v want="$1" '/^system_cpu_utilization_ratio\{/ && /host_name="ppdb002"|instance="ppdb002"/ && /mode="idle"|cpu_mode="idle"/ { n++; s += 1 - $NF } END { exit !(n && s / n >= want) }'; }
idle() { curl -s "$MET/metrics" | awk '/^system_cpu_utilization_ratio\{/ && /host_name="ppdb002"|instance="ppdb002"/ && /mode="idle"|cpu_mode="idle"/ { n++; s += 1 - $NF } END { exit !(n && s / n < 0.6) }'; }
check "ppdb002's CPU is low before ($(curl -s "$MET/metrics" | grep -c ppdb002) series)" poll 10 idle

st=$(code -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')
check "PUT critical: 202 ($st $(cat "$TMP/body"))" [ "$st" = 202 ]
state_is() { curl -s "$CTL/api/entities/ppdb002" | grep -q "\"state\":\"$1\""; }
check "GET shows critical" poll 10 state_is critical
check "GET says source command" sh -c "curl -s '$CTL/api/entities/ppdb002' | grep -q '\"source\":\"command\"'"
label() { grep -q "\"target\":\"ppdb002\",\"kind\":\"state\",\"state\":\"$1\".*\"source\":\"command\".*\"phase\":\"$2\"" "$TMP/a.labels"; }
check "label file: critical begins, source command" poll 5 label critical begin
check "label has the wall clock" grep -q '"wall_unix_nano":' "$TMP/a.labels"
check "/metrics: ppdb002's CPU rose towards critical's 97%" poll 15 busy 0.8
check "GET /api/labels has it" sh -c "curl -s '$CTL/api/labels?after=0' | grep -q '\"state\":\"critical\"'"
check "PUT healthy: 202" [ "$(code -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"healthy"}')" = 202 ]
check "label file: critical ends" poll 5 label critical end
check "GET shows healthy again" poll 10 state_is healthy

check "unknown entity: 404" [ "$(code "$CTL/api/entities/ppdb02")" = 404 ]
check "404 suggests the name" grep -q "did you mean 'ppdb002'" "$TMP/body"
check "wrong method: 405" [ "$(code -X DELETE "$CTL/api/world")" = 405 ]
check "bad JSON: 400" [ "$(code -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":')" = 400 ]
check "unknown state: 400" [ "$(code -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"on fire"}')" = 400 ]
head -c 100000 /dev/zero | tr '\0' 'x' >"$TMP/big"
check "oversized body: 413" [ "$(code -X PUT "$CTL/api/entities/ppdb002/state" --data-binary @"$TMP/big")" = 413 ]
check "errors are JSON" json "$TMP/body" 'j.error'
kill -TERM "$PID"; wait "$PID"; rc=$?
check "SIGTERM: exit 0 (got $rc)" [ "$rc" = 0 ]

# a token guards changes (from the environment), reads stay open on loopback
DIORAMA_CONTROL_TOKEN=s3cret start_up b
check "up with a token starts" [ -n "$CTL" ]
check "no token: 401" [ "$(code -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')" = 401 ]
check "right token: 202" [ "$(code -X PUT -H 'Authorization: Bearer s3cret' "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')" = 202 ]
check "reads need none on loopback" [ "$(code "$CTL/api/world")" = 200 ]
kill -TERM "$PID"; wait "$PID"
"$DIORAMA" up --control 0.0.0.0:0 --prom-listen 127.0.0.1:0 --serve 127.0.0.1:0 >/dev/null 2>"$TMP/c.err"
rc=$?
check "non-loopback without a token: exit 2 ($rc)" [ "$rc" = 2 ]
check "non-loopback without a token: says why" grep -q 'needs a token' "$TMP/c.err"
finish
