#!/usr/bin/env bash
# The web console (docs/console.md) of `diorama up`, the way `make run` starts it: the last line
# before it waits is "console: URL"; GET / answers the page with a CSP that allows only this
# origin, files revalidate by ETag, wrong methods get 405. Then headless Chromium
# (playwright-core from tests/node driving Debian's chromium) works the page:
# tests/node/console_check.js (no console errors, no request leaves the origin, one tile per
# host, "degrading" on ppdb002 seen through the API, /metrics and the labels, a fault started
# and stopped from the page). The label file must hold the page's change (source: command).
# x-axis time ticks (whole seconds, spaced), the header pill naming an active fault, 200 hosts
# (bench/data/console_200.yaml) drawn; what a projector shows: the header on one line at 1280
# and 1600 px, the change's message over no chart, band names above the plots (200 hosts),
# inference's per-request labels counted in one row per fault. CONSOLE_DIR=DIR runs the page's
# files from DIR (e.g. an older web/console) against this binary.
# Screenshots go to $BUILD/artefacts/console-{light,dark,faults,200}.png. Without node, chromium
# or tests/node/node_modules it skips (77), except in CI (CI=true), where it fails.
. "$(dirname "$0")/lib.sh"
node_dir=$SRC/tests/node
chromium=${CHROMIUM:-/usr/bin/chromium}
missing=""
command -v node >/dev/null || missing+=" node"
[ -x "$chromium" ] || missing+=" $chromium"
[ -d "$node_dir/node_modules/playwright-core" ] || missing+=" playwright-core (npm ci --prefix tests/node)"
if [ -n "$missing" ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: the console test needs:$missing (scripts/install-deps.sh)"; exit 1; }
  skip "missing:$missing"
fi
art=$BUILD/artefacts
mkdir -p "$art"

# up serves the scenario's routes on 127.0.0.1:8000 by default (--serve): any free port here
serve=()
"$DIORAMA" run --help | grep -q -- '--serve' && serve=(--serve 127.0.0.1:0)
start_up() { # start_up NAME args... : sets PID, CON (console base URL), MET (/metrics base)
  "$DIORAMA" up --control 127.0.0.1:0 --prom-listen 127.0.0.1:0 "${serve[@]}" "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err" &
  PID=$!
  PIDS+=($PID)
  CON="" MET=""
  for _ in $(seq 1 150); do
    CON=$(sed -n 's#^console: \(http://[^/]*\)/$#\1#p' "$TMP/$1.err")
    MET=$(sed -n 's#.*/metrics *\(http://[^/]*\)/metrics#\1#p' "$TMP/$1.err")
    [ -n "$CON" ] && [ -n "$MET" ] && return 0
    sleep 0.1
  done
  cat "$TMP/$1.err" >&2
  return 1
}
hdr() { curl -s -D "$TMP/h" -o "$TMP/body" -w '%{http_code}' "$@"; }

check "make run starts diorama up" grep -q 'diorama up' "$SRC/Makefile"
t0=$(date +%s%N)
check "up starts and prints the console URL" start_up fleet --metric-interval 1s --labels "$TMP/fleet.labels"
check "the console URL is the banner's last line ($(tail -n1 "$TMP/fleet.err"))" \
  sh -c "tail -n1 '$TMP/fleet.err' | grep -q '^console: http://127.0.0.1:[0-9]*/\$'"
check "GET /: 200" [ "$(hdr "$CON/")" = 200 ]
echo "console answered $(( ($(date +%s%N) - t0) / 1000000 )) ms after start"
check "GET /: the page" grep -q '<title>diorama console</title>' "$TMP/body"
check "GET /: text/html" grep -qi '^content-type: text/html' "$TMP/h"
check "GET /: CSP default-src 'self'" grep -qi "^content-security-policy: default-src 'self';.*connect-src 'self'" "$TMP/h"
check "GET /: nosniff" grep -qi '^x-content-type-options: nosniff' "$TMP/h"
check "GET /console/app.js: 200" [ "$(hdr "$CON/console/app.js")" = 200 ]
check "app.js: javascript" grep -qi '^content-type: text/javascript' "$TMP/h"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\(.*\)\r$/\1/p' "$TMP/h")
check "app.js: an ETag ($etag)" [ -n "$etag" ]
check "app.js: no-cache" grep -qi '^cache-control: no-cache' "$TMP/h"
check "If-None-Match: 304" [ "$(hdr -H "If-None-Match: $etag" "$CON/console/app.js")" = 304 ]
check "uPlot is served from the binary" [ "$(hdr "$CON/console/uPlot.esm.js")" = 200 ]
check "unknown file: 404" [ "$(hdr "$CON/console/nope.js")" = 404 ]
check "POST /: 405" [ "$(hdr -X POST "$CON/")" = 405 ]
check "graph.json: the fleet's shape" sh -c "[ \$(curl -s '$CON/console/graph.json' | node -e 'let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).hosts.length))') = 20 ]"
FLEET=$CON FLEET_MET=$MET FLEET_PID=$PID
kill -TERM "$FLEET_PID"; wait "$FLEET_PID"

# the browser run: a token guards changes (the page takes it from #token=). The simulated day
# starts at 06:00 UTC whatever the time: the ppdb hosts' nightly maintenance (04:30-05:10)
# doubles their CPU, and the check needs ppdb002 below 60% before "degrading".
day_start="$(date -u +%Y-%m-%d)T06:00:00Z"
DIORAMA_CONTROL_TOKEN=c0nsole check "up fleet (token) starts" start_up fleet2 --metric-interval 1s --labels "$TMP/fleet2.labels" --start "$day_start"
FLEET=$CON FLEET_MET=$MET FLEET_PID=$PID
check "up inference (faults) starts" start_up inf inference --metric-interval 1s
FAULTS=$CON FAULTS_PID=$PID
check "up with 200 hosts starts" start_up big "$SRC/bench/data/console_200.yaml"
BIG=$CON BIG_PID=$PID
CHROMIUM=$chromium timeout 170 node "$node_dir/console_check.js" "$FLEET" "$FLEET_MET" "$FAULTS" c0nsole "$art" "$BIG"
check "console_check.js passed" [ $? = 0 ]
for p in "$FLEET_PID" "$FAULTS_PID" "$BIG_PID"; do
  kill -TERM "$p"; wait "$p"; rc=$?
  check "SIGTERM: exit 0 ($rc)" [ "$rc" = 0 ]
done
check "the label file has the page's change (source: command)" \
  grep -q '"target":"ppdb002","kind":"state","state":"degrading".*"source":"command"' "$TMP/fleet2.labels"
for f in console-light.png console-dark.png console-faults.png console-200.png \
  console-{fleet,200}-{light,dark}-{1280x720,1920x1080}.png; do
  check "screenshot $f kept" [ -s "$art/$f" ]
done
finish
