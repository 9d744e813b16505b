#!/usr/bin/env bash
# report: the `diorama load` HTML report renders in headless Chromium (Debian's chromium driven
# by playwright-core from tests/node): no console errors, no network, two uPlot charts with
# size, the summary numbers in the DOM, nothing breaking out of <script> (the sample URL
# carries "</script>"). Also decodes the JSON's "hdr" with hdr-histogram-js (a second
# HdrHistogram implementation). The report comes from tests/peers/report_sample.c; a screenshot
# is left in $REPORT_SHOT_DIR when set. Skips (77) without node, chromium or tests/node/node_modules.
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
shot=${REPORT_SHOT_DIR:-$tmp}/load_report.png
CHROMIUM=$chromium node "$node_dir/report_check.js" "$tmp/load.html" "$tmp/load.json" "$shot"
