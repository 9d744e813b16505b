#!/usr/bin/env bash
# Same scenario + seed + --speed max => byte-identical OTLP/JSON and labels; another seed differs.
. "$(dirname "$0")/lib.sh"
differ() { ! cmp -s "$1" "$2"; }
differ_grep() { ! grep -q "$1" "$2"; }
for s in inference shop classify; do
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
# Verification attributes are there by default and gone with --no-verify-attrs.
f=$TMP/inference.1.jsonl
check "default output carries diorama.seq" grep -q '"key":"diorama.seq"' "$f"
check "default output carries diorama.gen_time_unix_nano" grep -q '"key":"diorama.gen_time_unix_nano"' "$f"
check "default output carries diorama.run_id" grep -q '"key":"diorama.run_id"' "$f"
"$DIORAMA" run inference --seed 7 --speed max --duration 1m --no-verify-attrs \
  --otlp-file "$TMP/nv.jsonl" -q >/dev/null
check "--no-verify-attrs output is not empty" [ -s "$TMP/nv.jsonl" ]
check "--no-verify-attrs removes every diorama.* attribute" differ_grep '"key":"diorama\.' "$TMP/nv.jsonl"
finish
