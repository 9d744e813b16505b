#!/usr/bin/env bash
# wire: diorama's OTLP protobuf and OTLP/JSON requests, decoded by an independent decoder: the
# protobufjs classes that @opentelemetry/otlp-proto-exporter-base generated from the official
# opentelemetry-proto (tests/node/decode.js). Checks spec rules (ids, parents, times, histogram
# invariants, severities), that JSON and protobuf carry the same message, that re-encoding
# gives the same bytes (canonical encoding), and that every record arrived (expected.json).
# Needs `npm ci` in tests/node; skips (77) without it.
set -euo pipefail
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
node_dir=$SRC/tests/node
if ! command -v node >/dev/null ||
    [ ! -d "$node_dir/node_modules/@opentelemetry/otlp-proto-exporter-base" ]; then
    echo "skip: node or tests/node/node_modules missing (run: npm ci --prefix tests/node)"
    exit 77
fi
helper=$BUILD/test_wire_conformance
if [ ! -x "$helper" ]; then
    echo "FAIL: $helper not built"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$helper" "$tmp" >"$tmp/helper.log" 2>&1 || { cat "$tmp/helper.log"; exit 1; }

fail=0
for s in traces metrics logs; do
    if ! node "$node_dir/decode.js" "$s" "$tmp/$s.pb" --json "$tmp/$s.json" >"$tmp/$s.summary"; then
        echo "FAIL: $s decode reported problems"
        fail=1
    fi
    cat "$tmp/$s.summary"
done

# Every count in expected.json must match the decoder's summary (seq_n = summary.seq.n).
node - "$tmp" <<'JS' || fail=1
const fs = require('fs');
const dir = process.argv[2];
const expected = JSON.parse(fs.readFileSync(`${dir}/expected.json`, 'utf8'));
let bad = 0;
for (const [signal, want] of Object.entries(expected)) {
  const got = JSON.parse(fs.readFileSync(`${dir}/${signal}.summary`, 'utf8'));
  for (const [k, v] of Object.entries(want)) {
    const g = k === 'seq_n' ? (got.seq ? got.seq.n : 0) : got[k];
    if (g !== v) {
      console.log(`FAIL: ${signal}.${k} = ${g}, expected ${v}`);
      bad = 1;
    }
  }
}
process.exit(bad);
JS

if [ "$fail" -ne 0 ]; then
    echo "test_wire_conformance: FAILED"
    exit 1
fi
echo "test_wire_conformance: ok"
