#!/usr/bin/env bash
# Writes the checked-in golden output of every built-in scenario (tests/data/golden/run/): a
# short reproducible run (--speed max, fixed seed and --start) as OTLP/JSON lines and labels,
# gzipped. tests/integration/test_run_golden.sh compares fresh runs with them byte for byte.
# Run it only when a change of the output is intended, and say why in the commit.
#   usage: scripts/golden.sh [DIORAMA]     (default build/diorama)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-build/diorama}
OUT=tests/data/golden/run
for v in $(env | grep -o '^OTEL_[A-Z_]*'); do unset "$v"; done
mkdir -p "$OUT"
for f in scenarios/*.yaml; do
  name=$(basename "$f" .yaml)
  "$D" run "$name" --speed max --duration 5s --seed 7 --start 2026-01-01T00:00:00Z \
    --metric-interval 1s -q --otlp-file "$OUT/$name.tmp" --labels "$OUT/$name.labels.jsonl" \
    >/dev/null
  gzip -9n <"$OUT/$name.tmp" >"$OUT/$name.otlp.jsonl.gz"
  rm -f "$OUT/$name.tmp"
  echo "$name: $(zcat "$OUT/$name.otlp.jsonl.gz" | wc -c) bytes, $(wc -l <"$OUT/$name.labels.jsonl") labels"
done
