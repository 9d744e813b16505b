#!/usr/bin/env bash
# Connection pools (`pool:`) queue in serve, in run and in run --serve by the same plan, on the
# same state (tests/data/pool.yaml: mysql/SELECT and mysql/SLOW, one connection each, 100 ms a
# query). What is asserted follows from the pool, not from how fast this machine is: N requests
# on one connection take at least N x 100 ms in all, so with 8 sent at once the slowest answer
# comes after >= 400 ms and the median after >= 200 ms (M/D/1 with 8 simultaneous arrivals:
# the k-th waits (k - 1) x 100 ms; without queueing every answer takes ~100 ms); a request that
# would wait past SLOW's 250 ms timeout answers 503 after >= 250 ms.
. "$(dirname "$0")/lib.sh"
Y="$SRC/tests/data/pool.yaml"

# burst URL N OUTPREFIX: N requests at once (one curl, --parallel); "code seconds" per line.
burst() {
  local args=() i
  for i in $(seq "$2"); do args+=(-o "$3$i.json" "$1"); done
  curl -s --parallel --parallel-immediate --parallel-max "$2" -w '%{http_code} %{time_total}\n' \
    "${args[@]}"
}
nth() { sort -n -k2 | sed -n "$1p" | cut -d' ' -f2; } # the nth fastest answer's seconds
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# ---- serve: real requests queue on the scenario's pools ----------------------------------------
"$DIORAMA" serve "$Y" --listen 127.0.0.1:0 --port-file "$TMP/port" -q 2>"$TMP/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
U="http://127.0.0.1:$(cat "$TMP/port")"
check "serve is up ($(cat "$TMP/serve.err"))" curl -sf -o /dev/null "$U/healthz"

burst "$U/q" 8 "$TMP/q" >"$TMP/q.txt"
codes=$(cut -d' ' -f1 "$TMP/q.txt" | sort | uniq -c | tr '\n' ' ')
check "serve: 8 at once on one connection all answer 200 ($codes)" [ "$codes" = "      8 200 " ]
check "serve: the slowest of 8 after >= 0.4 s ($(tr '\n' ' ' <"$TMP/q.txt"))" ge "$(nth 8 <"$TMP/q.txt")" 0.4
check "serve: the median of 8 after >= 0.2 s" ge "$(nth 4 <"$TMP/q.txt")" 0.2
waited=$(cat "$TMP"/q*.json | grep -c '"pool_wait_ms":')
check "serve: answers say they waited for the connection ($waited of 8)" [ "$waited" -ge 4 ]

burst "$U/t" 6 "$TMP/t" >"$TMP/t.txt"
n200=$(grep -c '^200 ' "$TMP/t.txt")
n503=$(grep -c '^503 ' "$TMP/t.txt")
check "serve: 6 at once on SLOW (250 ms timeout): some 200 ($n200), some 503 ($n503)" \
  [ "$n200" -ge 1 -a "$n503" -ge 1 -a $((n200 + n503)) = 6 ]
slow503=$(awk '$1 == 503 && $2 < 0.25' "$TMP/t.txt" | wc -l)
check "serve: every 503 came after the pool's timeout ($(tr '\n' ' ' <"$TMP/t.txt"))" [ "$slow503" = 0 ]
check "serve: the 503 names the pool" grep -q "no connection of mysql/SLOW's pool within 250ms" "$TMP"/t*.json

# ---- run: the simulated requests queue on the same pools ---------------------------------------
"$DIORAMA" run "$Y" --speed max --duration 60s --seed 3 -q --otlp-file "$TMP/run.jsonl" >/dev/null
check "run exits 0" [ $? = 0 ]
# Logs per (route, kind of line) and /busy's root spans: count, 503s, mean wait.
cat >"$TMP/count.js" <<'EOF'
const fs = require("fs");
const out = { waited: {}, gaveUp: {}, busy: 0, busy503: 0, busyWaitMs: 0, simSlow: 0, sim: 0 };
const attrs = (x) => Object.fromEntries((x || []).map((a) => [a.key, Object.values(a.value)[0]]));
for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
  if (!line) continue;
  const j = JSON.parse(line);
  for (const rl of j.resourceLogs || []) for (const sl of rl.scopeLogs) for (const l of sl.logRecords) {
    const body = l.body.stringValue, route = attrs(l.attributes)["http.route"];
    const m = /^waited ([0-9.]+)ms for a connection/.exec(body);
    if (m) { out.waited[route] = (out.waited[route] || 0) + 1; if (route === "SLOW") out.busyWaitMs += +m[1]; }
    if (/^gave up after waiting/.test(body) && l.severityNumber === 13) out.gaveUp[route] = (out.gaveUp[route] || 0) + 1;
  }
  for (const rs of j.resourceSpans || []) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
    const a = attrs(s.attributes), ms = (Number(s.endTimeUnixNano) - Number(s.startTimeUnixNano)) / 1e6;
    if (s.kind !== 2) continue;
    if (s.name === "GET /busy") { out.busy++; if (String(a["http.response.status_code"]) === "503") out.busy503++; }
    if (s.name === "GET /sim") { out.sim++; if (ms > 150) out.simSlow++; }
  }
}
console.log(JSON.stringify(out));
EOF
node "$TMP/count.js" "$TMP/run.jsonl" >"$TMP/run.json"
r() { json "$TMP/run.json" "$1"; }
check "run: requests waited for SLOW's connection ($(cat "$TMP/run.json"))" [ "$(r 'j.waited.SLOW || 0')" -gt 0 ]
check "run: some gave up (WARN), one per 503 of GET /busy" \
  [ "$(r 'j.gaveUp.SLOW || 0')" -gt 0 -a "$(r 'j.gaveUp.SLOW || 0')" = "$(r j.busy503)" ]
# M/D/1 at 80% load: 200 ms mean wait (less here: the 250 ms timeout cuts the queue); none: 0
check "run: GET /busy waits >= 20 ms on average" ge "$(r 'j.busyWaitMs / j.busy')" 20
check "run: GET /sim alone never queues (5/s, evenly spaced)" [ "$(r 'j.waited.SELECT || 0')" = 0 ]
check "run: ... and never takes over 150 ms" [ "$(r j.simSlow)" = 0 -a "$(r j.sim)" -gt 200 ]

# ---- run --serve: real and simulated requests share the connections ---------------------------
"$DIORAMA" run "$Y" --speed 1 --otlp-file "$TMP/rs.jsonl" --serve 127.0.0.1:0 \
  --batch-timeout 100ms --seed 3 >/dev/null 2>"$TMP/rs.err" &
RS=$!
PIDS+=($RS)
V=""
for _ in $(seq 100); do
  V=$(sed -n 's#^  routes *\(http://[^ ]*\)/$#\1#p' "$TMP/rs.err")
  [ -n "$V" ] && break
  sleep 0.1
done
check "run --serve prints the routes' URL ($(cat "$TMP/rs.err"))" [ -n "$V" ]
# One at a time: a real request never waits for another real one, so every wait is behind a
# simulated GET /sim (it holds the connection half the time).
for i in $(seq 20); do curl -s "$V/q" >"$TMP/seq$i.json"; done
behind=$(cat "$TMP"/seq*.json | grep -c '"pool_wait_ms":')
check "run --serve: real requests waited behind simulated ones ($behind of 20)" [ "$behind" -ge 1 ]
burst "$V/q" 8 "$TMP/rq" >"$TMP/rq.txt"
check "run --serve: the slowest of 8 at once after >= 0.4 s ($(tr '\n' ' ' <"$TMP/rq.txt"))" \
  ge "$(nth 8 <"$TMP/rq.txt")" 0.4
sleep 1.5 # the simulated requests behind the burst end, and their batch is flushed
kill -INT "$RS"
wait "$RS"
check "run --serve: SIGINT exits 0 ($(tail -3 "$TMP/rs.err"))" [ $? = 0 ]
node "$TMP/count.js" "$TMP/rs.jsonl" >"$TMP/rs.json"
# GET /sim never queues on its own (above): one that took over 150 ms waited behind real ones.
check "run --serve: simulated requests waited behind real ones ($(cat "$TMP/rs.json"))" \
  [ "$(json "$TMP/rs.json" j.simSlow)" -ge 1 ]
check "run --serve: the waits are logged" [ "$(json "$TMP/rs.json" 'j.waited.SELECT || 0')" -ge 2 ]
finish
