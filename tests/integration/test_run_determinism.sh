#!/usr/bin/env bash
# Same scenario + seed + --speed max => byte-identical OTLP/JSON and labels; another seed differs.
. "$(dirname "$0")/lib.sh"
differ() { ! cmp -s "$1" "$2"; }
for s in inference shop; do
  for i in 1 2; do
    "$DIORAMA" run $s --seed 7 --speed max --duration 2m --otlp-file "$TMP/$s.$i.jsonl" \
      --labels "$TMP/$s.$i.labels" -q >/dev/null || fail "$s run $i failed"
  done
  check "$s: output is not empty" [ -s "$TMP/$s.1.jsonl" ]
  check "$s: same seed gives identical records" cmp -s "$TMP/$s.1.jsonl" "$TMP/$s.2.jsonl"
  check "$s: same seed gives identical labels" cmp -s "$TMP/$s.1.labels" "$TMP/$s.2.labels"
  "$DIORAMA" run $s --seed 8 --speed max --duration 2m --otlp-file "$TMP/$s.3.jsonl" -q >/dev/null
  check "$s: another seed gives other records" differ "$TMP/$s.1.jsonl" "$TMP/$s.3.jsonl"
done
finish
