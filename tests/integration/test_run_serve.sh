#!/usr/bin/env bash
# run --serve: the scenario's routes answered in the run's own process, planned by the run's
# world. tests/data/run_serve.yaml's GET /real has no simulated traffic, so the spans of /real
# in the OTLP file are exactly the real requests sent: each a server span plus the db call's
# client span, named as the simulated ones are, and counted in the run's accounting. A live
# state change reaches the real requests too (ppdb002 critical -> some 503s).
. "$(dirname "$0")/lib.sh"
"$DIORAMA" run "$SRC/tests/data/run_serve.yaml" --speed 1 --otlp-file "$TMP/o.jsonl" \
  --serve 127.0.0.1:0 --control 127.0.0.1:0 --batch-timeout 100ms --seed 3 \
  >"$TMP/out" 2>"$TMP/err" &
PID=$!
PIDS+=($PID)
U="" CTL=""
for _ in $(seq 100); do
  U=$(sed -n 's#^  routes *\(http://[^ ]*\)/$#\1#p' "$TMP/err")
  CTL=$(sed -n 's#^  control API *\(http://[^/]*\)/api/world#\1#p' "$TMP/err")
  [ -n "$U" ] && [ -n "$CTL" ] && break
  sleep 0.1
done
check "run --serve prints the routes' URL ($(cat "$TMP/err"))" [ -n "$U" ]
codes() { for _ in $(seq "$1"); do curl -s -o /dev/null -w '%{http_code}\n' "$U/real"; done | sort | uniq -c | tr '\n' ' '; }
c=$(codes 40)
check "healthy: 40 x 200 ($c)" [ "$c" = "     40 200 " ]
check "PUT critical: 202" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$CTL/api/entities/ppdb002/state" -d '{"state":"critical"}')" = 202 ]
state_is() { curl -s "$CTL/api/entities/ppdb002" | grep -q "\"state\":\"$1\""; }
for _ in $(seq 50); do state_is critical && break; sleep 0.1; done
c=$(codes 60)
n503=$(awk '{for (i = 1; i < NF; i += 2) if ($(i + 1) == 503) print $i}' <<<"$c")
check "critical: some real requests fail with 503 ($c)" [ "${n503:-0}" -ge 3 ]
sleep 1.5 # past the batch timeout: the last real spans are in a submitted batch
kill -INT "$PID"; wait "$PID"; rc=$?
check "SIGINT: exit 0 ($rc; $(tail -3 "$TMP/err"))" [ "$rc" = 0 ]
# Count spans by http.route and kind over the whole file (node decodes the OTLP/JSON lines).
node -e '
const fs = require("fs");
let real = 0, realClient = 0, errs = 0, other = 0;
for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  if (!line) continue;
  const j = JSON.parse(line);
  for (const rs of j.resourceSpans || []) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
    const a = Object.fromEntries((s.attributes || []).map(x => [x.key, Object.values(x.value)[0]]));
    if (a["http.route"] === "/real" && s.kind === 2) { real++; if (String(a["http.response.status_code"]) === "503") errs++; }
    else if (s.name === "GET /" && s.kind === 2) other++;
  }
}
console.log(real, errs, other);' "$TMP/o.jsonl" >"$TMP/counts"
read -r real errs other <"$TMP/counts"
check "every real request is a server span of /real in the output ($real of 100)" [ "$real" = 100 ]
check "the real 503s are in the output too ($errs vs $n503)" [ "$errs" = "${n503:-0}" ]
check "the simulated traffic went on beside them ($other spans of GET /)" [ "$other" -gt 0 ]
finish
