#!/usr/bin/env bash
# report: the `diorama load` HTML report renders in headless Chromium (Debian's chromium driven
# by playwright-core from tests/node): no console errors, no network, two uPlot charts with
# size, the summary numbers in the DOM, nothing breaking out of <script> (the sample URL
# carries "</script>"). Also decodes the JSON's "hdr" with hdr-histogram-js (a second
# HdrHistogram implementation). Two reports: tests/peers/report_sample.c (synthetic, every
# table filled) and a real `diorama load --mode latency_injection --timeout 3s` run against
# tests/peers/load_target, whose slow requests finish (or time out) after the schedule ended:
# its charts must still span exactly the schedule, by the second requests were due. Screenshots
# are left in $REPORT_SHOT_DIR (default: the build dir) as load_report.png and load_real.png.
# Skips (77) without node, chromium or tests/node/node_modules.
set -euo pipefail
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
node_dir=$SRC/tests/node
chromium=${CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null || [ ! -x "$chromium" ] ||
    [ ! -d "$node_dir/node_modules/playwright-core" ] ||
    [ ! -d "$node_dir/node_modules/hdr-histogram-js" ]; then
    echo "skip: node, $chromium or tests/node/node_modules missing (run: npm ci --prefix tests/node)"
    exit 77
fi
sample=$BUILD/report_sample
if [ ! -x "$sample" ]; then
    echo "FAIL: $sample not built"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sample" "$tmp"
shots=${REPORT_SHOT_DIR:-$BUILD}
rc=0
CHROMIUM=$chromium node "$node_dir/report_check.js" "$tmp/load.html" "$tmp/load.json" \
    "$shots/load_report.png" || rc=1

# A real run: 3 s at 20/s, 60% asking for 2-5 s delays, a 3 s timeout.
target=$BUILD/load_target
diorama=${DIORAMA:-$BUILD/diorama}
"$target" --port-file "$tmp/port" &
tpid=$!
trap 'kill $tpid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
"$diorama" load "http://127.0.0.1:$(cat "$tmp/port")/classify" --rate 20 -d 3 --seed 5 \
    --mode latency_injection --share 60% --timeout 3s -q --json "$tmp/real.json" \
    --html "$tmp/real.html" >"$tmp/real.txt" || true
# by due time: three seconds, whatever finished (or timed out) after the schedule's end
if ! node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));
    process.exit(j.timeline.length === 3 && j.timeline.every((e) => e.t_s < 3) ? 0 : 1)' \
    "$tmp/real.json"; then
    echo "FAIL: the timeline is not the 3 s schedule: $(grep -o '"timeline":[^]]*' "$tmp/real.json")"
    rc=1
fi
if ! grep -q '"timeout":[1-9]' "$tmp/real.json"; then
    echo "FAIL: the real run was meant to have timeouts: $(cat "$tmp/real.txt")"
    rc=1
fi
CHROMIUM=$chromium node "$node_dir/report_check.js" "$tmp/real.html" "$tmp/real.json" \
    "$shots/load_real.png" || rc=1
exit $rc
