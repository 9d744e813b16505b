#!/usr/bin/env bash
# Determinism against checked-in output: a short run of every built-in scenario (same seed,
# --start and fast clock) is byte-identical to tests/data/golden/run/ (written by
# scripts/golden.sh), telemetry and labels. A change of the output must be intended: rerun the
# script and commit the new files with the reason.
. "$(dirname "$0")/lib.sh"
G="$SRC/tests/data/golden/run"
for v in $(env | grep -o '^OTEL_[A-Z_]*'); do unset "$v"; done # resource attributes change output
n=0
for f in "$SRC"/scenarios/*.yaml; do
  name=$(basename "$f" .yaml)
  check "$name: golden file exists" [ -f "$G/$name.otlp.jsonl.gz" ]
  "$DIORAMA" run "$name" --speed max --duration 5s --seed 7 --start 2026-01-01T00:00:00Z \
    --metric-interval 1s -q --otlp-file "$TMP/$name.jsonl" --labels "$TMP/$name.labels" >/dev/null
  check "$name: run exits 0" [ $? = 0 ]
  zcat "$G/$name.otlp.jsonl.gz" >"$TMP/$name.want" 2>/dev/null
  check "$name: telemetry identical to the golden file" cmp "$TMP/$name.want" "$TMP/$name.jsonl"
  check "$name: labels identical to the golden file" cmp "$G/$name.labels.jsonl" "$TMP/$name.labels"
  n=$((n + 1))
done
check "every built-in checked ($n)" [ "$n" -ge 5 ]
finish
