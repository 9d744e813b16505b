#!/usr/bin/env bash
# serve --control: real requests follow live state changes. tests/data/states.yaml's GET / on
# web calls db on ppdb002: healthy, no request fails; after PUT critical on ppdb002 (20% of its
# requests fail with 503, passed to the caller), some do; after healthy again, none.
. "$(dirname "$0")/lib.sh"
"$DIORAMA" serve "$SRC/tests/data/states.yaml" --listen 127.0.0.1:0 --port-file "$TMP/port" \
  --control 127.0.0.1:0 --seed 5 >"$TMP/out" 2>"$TMP/err" &
PID=$!
PIDS+=($PID)
CTL=""
for _ in $(seq 100); do
  CTL=$(sed -n 's#.*control API on \(http://[^/]*\)/api/world#\1#p' "$TMP/err")
  [ -n "$CTL" ] && [ -s "$TMP/port" ] && break
  sleep 0.1
done
check "serve starts with the control API ($(cat "$TMP/err"))" [ -n "$CTL" ]
U="http://127.0.0.1:$(cat "$TMP/port")/"
codes() { for _ in $(seq "$1"); do curl -s -o /dev/null -w '%{http_code}\n' "$U"; done | sort | uniq -c | tr '\n' ' '; }
c=$(codes 100)
check "healthy: 100 x 200 ($c)" [ "$c" = "    100 200 " ]
check "PUT critical: 202" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')" = 202 ]
state_is() { curl -s "$CTL/api/entities/ppdb002" | grep -q "\"state\":\"$1\""; }
for _ in $(seq 50); do state_is critical && break; sleep 0.1; done
check "the world applied it" state_is critical
c=$(codes 200)
n503=$(awk '{for (i = 1; i < NF; i += 2) if ($(i + 1) == 503) print $i}' <<<"$c")
check "critical: some requests fail with 503 ($c)" [ "${n503:-0}" -ge 10 ]
check "critical: not most ($c)" [ "${n503:-0}" -le 80 ]
check "PUT healthy: 202" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"healthy"}')" = 202 ]
for _ in $(seq 50); do state_is healthy && break; sleep 0.1; done
c=$(codes 100)
check "healthy again: 100 x 200 ($c)" [ "$c" = "    100 200 " ]
check "GET /api/labels has the period" sh -c "curl -s '$CTL/api/labels?after=0' | grep -q '\"phase\":\"end\"'"
# serve's own aggregates (/api/aggregates, SSE "agg"): its 400 real requests to GET /, per route
agg_sum() { # agg_sum FIELD: the sum of FIELD over every point's "GET /" entry
  curl -s "$CTL/api/aggregates?after=0" >"$TMP/agg.json"
  json "$TMP/agg.json" "j.points.flatMap(p => p.entries).filter(e => e.name === 'GET /')
    .reduce((s, e) => s + (e.$1 || 0), 0)"
}
for _ in $(seq 50); do [ "$(agg_sum n)" = 400 ] && break; sleep 0.1; done
check "/api/aggregates counts the 400 requests to GET / ($(agg_sum n))" [ "$(agg_sum n)" = 400 ]
check "/api/aggregates has errors while critical" [ "$(json "$TMP/agg.json" \
  "j.points.some(p => p.entries.some(e => e.name === 'GET /' && e.errors > 0))")" = true ]
check "/api/aggregates has latencies" [ "$(json "$TMP/agg.json" \
  "j.points.some(p => p.entries.some(e => e.n > 0 && e.p99 >= e.p50 && e.p50 > 0))")" = true ]
check "/api/aggregates has the hosts" [ "$(json "$TMP/agg.json" \
  "j.points.every(p => p.hosts.some(h => h.name === 'ppdb002'))")" = true ]
curl -sN --max-time 3 "$CTL/api/stream" >"$TMP/sse" 2>/dev/null
check "the SSE stream sends agg events with the route" sh -c \
  "grep -A1 '^event: agg' '$TMP/sse' | grep -q '\"name\":\"GET /\"'"
kill -TERM "$PID"; wait "$PID"; rc=$?
check "SIGTERM: exit 0 ($rc)" [ "$rc" = 0 ]
finish
