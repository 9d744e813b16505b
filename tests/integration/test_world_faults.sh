#!/usr/bin/env bash
# Faults end to end, read back from the decoded OTLP output: probability inside a window fails
# ~10% of requests in the window and none outside; a host fault raises the host's CPU and the
# latency of the requests it serves; dependency_down makes the client spans to that service
# fail fast; each window is one incident labelled begin + end. And a scenario of 1,000 faults
# gets every one of them labelled (faults past the 32nd used to be lost).
. "$(dirname "$0")/lib.sh"
START=2026-01-01T00:00:00Z
T0=1767225600
"$DIORAMA" run "$SRC/tests/data/faults.yaml" --speed max --duration 6m --seed 1 --start $START \
  --metric-interval 30s -q --otlp-file "$TMP/a.jsonl" --labels "$TMP/a.labels" >/dev/null
check "run exits 0" [ $? = 0 ]
node "$SRC/tests/node/states_check.js" "$TMP/a.jsonl" $T0 >"$TMP/s.json"
v() { json "$TMP/s.json" "$1"; }
awk_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
awk_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
e0=$(v 'j.spans[0].errors'); e1=$(v 'j.spans[1].errors'); n1=$(v 'j.spans[1].n')
e2=$(v 'j.spans[2].errors'); n2=$(v 'j.spans[2].n'); e3=$(v 'j.spans[3].errors')
check "no errors before the window ($e0)" [ "$e0" = 0 ]
check "window: about 10% fail ($e1 of $n1)" awk_ge "$e1" $((n1 * 6 / 100))
check "window: not more ($e1 of $n1)" awk_le "$e1" $((n1 * 14 / 100))
check "window, 2nd minute too ($e2 of $n2)" awk_ge "$e2" $((n2 * 6 / 100))
check "no errors after the window ($e3)" [ "$e3" = 0 ]
lat0=$(v 'j.spans[0].ms'); lat3=$(v 'j.spans[3].ms'); lat5=$(v 'j.spans[5].ms')
# web 10 ms + db 5 ms + pay 3 ms (+ network); db x3 -> +10 ms
check "host fault: requests 10 ms slower ($lat0 -> $lat3)" awk_ge "$lat3" "$(awk -v a="$lat0" 'BEGIN{print a+9.5}')"
check "host fault: not more ($lat3)" awk_le "$lat3" "$(awk -v a="$lat0" 'BEGIN{print a+10.5}')"
check "restored after ($lat5)" awk_le "$lat5" "$(awk -v a="$lat0" 'BEGIN{print a+0.5}')"
c2=$(v 'j.hosts.ppdb002[2].cpu'); c3=$(v 'j.hosts.ppdb002[3].cpu'); c5=$(v 'j.hosts.ppdb002[5].cpu')
check "host fault: db cpu ~95% ($c3)" awk_ge "$c3" 0.9
check "db cpu before/after ($c2, $c5)" awk_le "$(awk -v a="$c2" -v b="$c5" 'BEGIN{print (a > b ? a : b)}')" 0.5
e4=$(v 'j.spans[4].errors'); n4=$(v 'j.spans[4].n')
check "pay down: every request fails ($e4 of $n4)" [ "$e4" = "$n4" -a "$n4" -gt 0 ]
# the client spans to pay in minute 4: error, under 1 ms, no pay server span under them
node -e '
const fs = require("fs"); const t0 = BigInt(process.argv[2]) * 1000000000n;
let client = 0, fast = 0, payServer = 0;
for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  if (!line) continue;
  for (const rs of JSON.parse(line).resourceSpans || []) {
    const svc = rs.resource.attributes.find((a) => a.key === "service.name").value.stringValue;
    for (const ss of rs.scopeSpans) for (const s of ss.spans) {
      const m = Number((BigInt(s.startTimeUnixNano) - t0) / 60000000000n);
      if (m !== 4) continue;
      const addr = (s.attributes || []).find((a) => a.key === "server.address");
      if (s.kind === 3 && addr && addr.value.stringValue === "pay") {
        client++;
        const ms = Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
        if (s.status && s.status.code === 2 && ms < 1) fast++;
      }
      if (svc === "pay") payServer++;
    }
  }
}
console.log(client, fast, payServer);' "$TMP/a.jsonl" $T0 >"$TMP/pay.txt"
read -r client fast payserver <"$TMP/pay.txt"
check "pay down: client spans fail fast ($fast of $client)" [ "$fast" = "$client" -a "$client" -gt 0 ]
check "pay down: pay never runs ($payserver)" [ "$payserver" = 0 ]
for f in blip db-hot pay-down; do
  b=$(grep "\"fault\":\"$f\"" "$TMP/a.labels" | grep -c '"phase":"begin"')
  e=$(grep "\"fault\":\"$f\"" "$TMP/a.labels" | grep -c '"phase":"end"')
  check "$f: one incident, begin and end ($b, $e)" [ "$b" = 1 -a "$e" = 1 ]
done
check "incident labels say scope and source" grep -q '"scope":"incident","source":"schedule"' "$TMP/a.labels"

# 1,000 faults: every 1st request of one operation, all firing on each request
{
  echo "name: many"
  echo "services: [{name: api, operations: [{name: GET /, rate: 5, latency: 1ms}]}]"
  echo "faults:"
  for i in $(seq 1 1000); do echo "  - {name: f$i, target: api, every: 1, effect: {latency_factor: 1.0001}}"; done
} >"$TMP/many.yaml"
"$DIORAMA" run "$TMP/many.yaml" --speed max --duration 2s --null -q --labels "$TMP/many.labels" >/dev/null
check "1,000 faults: run exits 0" [ $? = 0 ]
distinct=$(grep -o '"fault":"f[0-9]*"' "$TMP/many.labels" | sort -u | wc -l)
check "1,000 faults: all labelled ($distinct)" [ "$distinct" = 1000 ]
check "1,000 faults: request scope" grep -q '"scope":"request","source":"every"' "$TMP/many.labels"
finish
