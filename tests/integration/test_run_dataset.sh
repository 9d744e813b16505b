#!/usr/bin/env bash
# --dataset DIR (docs/dataset.md): a few simulated hours of `fleet` as a wide table. The
# Parquet file is read back by hyparquet (npm, an independent reader) and must equal the CSV
# row for row (columns, types, values); ppdb002's state column follows the scenario's
# timeline (degrading at 2h, critical at 3h) while its CPU rises; the output is byte-identical
# across runs and to the checked-in golden CSV (scripts/golden_dataset.sh); a bad DIR is a
# usage error before the run; a full disk is counted as dropped (io) with a message.
. "$(dirname "$0")/lib.sh"
for v in $(env | grep -o '^OTEL_[A-Z_]*'); do unset "$v"; done
NODE="$SRC/tests/node"
[ -d "$NODE/node_modules/hyparquet" ] || { [ "${CI:-}" = true ] && { fail "hyparquet missing (npm install in tests/node)"; finish; }; skip "hyparquet not installed"; }

D="$TMP/fleet"
"$DIORAMA" run fleet --speed max --duration 4h --dataset "$D" -q >"$TMP/out" 2>&1
check "fleet run exits 0" [ $? = 0 ]
check "summary names the rows" grep -q "^dataset: [0-9]* rows in $D" "$TMP/out"
node "$NODE/dataset_check.mjs" "$D" >"$TMP/check.json" 2>"$TMP/check.err"
check "hyparquet reads the file" [ $? = 0 ]
check "parquet equals csv row for row (no errors)" [ "$(json "$TMP/check.json" 'j.errors.length')" = 0 ]
check "rows: 4h x 360/h x entities" [ "$(json "$TMP/check.json" 'j.rows')" -gt 20000 ]
check "snappy pages" [ "$(json "$TMP/check.json" 'j.codecs.join()')" = SNAPPY ]
check "types" [ "$(json "$TMP/check.json" '[j.types.timestamp,j.types.entity,j.types.cpu_utilization].join()')" = INT64,BYTE_ARRAY,DOUBLE ]
check "a service row has a request rate and latency" \
  [ "$(json "$TMP/check.json" 'j.sample.request_rate>0 && j.sample.latency_p99_s>=j.sample.latency_p50_s')" = true ]
# ppdb002: healthy before 02:00, degrading 02:00-03:00, critical 03:00-03:20, CPU up with it
awk -F, '$3=="ppdb002"{print $2, $6, $9}' "$D/metrics.csv" >"$TMP/db2"
st() { awk -v a="$1" -v b="$2" '$1>=a && $1<b {print $2}' "$TMP/db2" | sort -u | tr '\n' ' '; }
cpu() { awk -v a="$1" -v b="$2" '$1>=a && $1<b {s+=$3; n++} END {printf "%.3f", s/n}' "$TMP/db2"; }
check "ppdb002 healthy in the first hours" [ "$(st 2026-01-01T00:10 2026-01-01T01:50)" = "healthy " ]
check "ppdb002 degrading from 2h" [ "$(st 2026-01-01T02:05 2026-01-01T02:55)" = "degrading " ]
check "ppdb002 critical from 3h" [ "$(st 2026-01-01T03:02 2026-01-01T03:15)" = "critical " ]
base=$(cpu 2026-01-01T00:10 2026-01-01T01:50) crit=$(cpu 2026-01-01T03:02 2026-01-01T03:15)
check "ppdb002 cpu rises ($base -> $crit)" awk -v a="$base" -v b="$crit" 'BEGIN{exit !(b > a + 0.3)}'

# determinism: the same run again, and the golden CSV of a short run
"$DIORAMA" run fleet --speed max --duration 4h --dataset "$TMP/again" -q >/dev/null 2>&1
check "same run, same csv" cmp "$D/metrics.csv" "$TMP/again/metrics.csv"
check "same run, same parquet" cmp "$D/metrics.parquet" "$TMP/again/metrics.parquet"
"$DIORAMA" run fleet --speed max --duration 5m --seed 7 --start 2026-01-01T00:00:00Z \
  --dataset "$TMP/g" --dataset-format csv -q >/dev/null 2>&1
check "csv only: no parquet" [ ! -e "$TMP/g/metrics.parquet" ]
check "golden csv" cmp "$SRC/tests/data/golden/dataset/fleet.csv" "$TMP/g/metrics.csv"

check "no business metrics, no business files" test ! -e "$D/business.csv" -a ! -e "$D/business.parquet"

# business metrics (rides' `business:`): DIR/business.{csv,parquet}, one row per tick, metric
# and city; the Parquet file equals the CSV, and every row equals what OTLP carried in the same
# run (counters: the rows of a series sum exactly to its last cumulative value)
R="$TMP/rides"
"$DIORAMA" run rides --speed max --duration 1h --start 2026-01-01T07:00:00Z --metric-interval 1m \
  --signals metrics --dataset "$R" --otlp-file "$TMP/rides.jsonl" -q >"$TMP/rout" 2>&1
check "rides run exits 0" [ $? = 0 ]
check "summary names the business rows" grep -q "^dataset: [0-9]* business rows in $R" "$TMP/rout"
node "$NODE/dataset_check.mjs" "$R" business >"$TMP/bpq.json" 2>"$TMP/bpq.err"
check "hyparquet reads business.parquet" [ $? = 0 ]
check "business: parquet equals csv row for row" [ "$(json "$TMP/bpq.json" 'j.errors.length')" = 0 ]
check "business: 60 ticks x 4 metrics x 4 cities rows" [ "$(json "$TMP/bpq.json" 'j.rows')" = 960 ]
check "business: types" [ "$(json "$TMP/bpq.json" '[j.types.timestamp,j.types.metric,j.types.value,j.types.p99].join()')" = INT64,BYTE_ARRAY,DOUBLE,DOUBLE ]
node "$NODE/dataset_biz_check.mjs" "$R" "$TMP/rides.jsonl" rides.requested rides.dispatch.duration \
  rides.eta drivers.available >"$TMP/biz.json" 2>"$TMP/biz.err"
check "business rows checked against OTLP" [ $? = 0 ]
check "business rows equal OTLP's values ($(json "$TMP/biz.json" 'j.errors.slice(0,3).join("; ")'))" \
  [ "$(json "$TMP/biz.json" 'j.errors.length')" = 0 ]
check "every OTLP business point has its row (16 series)" \
  [ "$(json "$TMP/biz.json" 'j.series===16 && j.rows===j.otlp_points')" = true ]
check "rides requested = dispatch observations ($(json "$TMP/biz.json" 'JSON.stringify(j.totals)'))" \
  [ "$(json "$TMP/biz.json" 'j.totals["rides.requested"]>0 && j.totals["rides.requested"]===j.totals["rides.dispatch.duration"]')" = true ]

# bad DIR: usage error (2) before the run starts, nothing written
touch "$TMP/afile"
"$DIORAMA" run fleet --speed max --duration 1m --dataset "$TMP/afile" -q >/dev/null 2>"$TMP/e1"
check "DIR is a file: exit 2" [ $? = 2 ]
check "DIR is a file: message" grep -q "exists and is not a directory" "$TMP/e1"
"$DIORAMA" run fleet --speed max --duration 1m --dataset "$TMP/afile/sub" -q >/dev/null 2>"$TMP/e2"
check "DIR cannot be created: exit 2" [ $? = 2 ]
check "DIR cannot be created: message" grep -q "cannot create directory" "$TMP/e2"
"$DIORAMA" run fleet --speed max --duration 1m --dataset "$TMP/x" --signals traces -q >/dev/null 2>"$TMP/e3"
check "--dataset without metrics: exit 2" [ $? = 2 ]
"$DIORAMA" run fleet --speed max --duration 1m --dataset "$TMP/y" --dataset-format xml -q >/dev/null 2>&1
check "bad --dataset-format: exit 2" [ $? = 2 ]

# a full disk: every row counted as dropped (io), a message, a failing exit code
mkdir "$TMP/full" && ln -s /dev/full "$TMP/full/metrics.csv"
"$DIORAMA" run fleet --speed max --duration 2m --dataset "$TMP/full" --dataset-format csv \
  --summary-json "$TMP/full.json" -q >"$TMP/fo" 2>"$TMP/fe"
rc=$?
check "disk full: exit 4 (nothing delivered)" [ $rc = 4 ]
check "disk full: message" grep -q "metrics.csv: write failed" "$TMP/fe"
check "disk full: dropped (io) counted" grep -q "dropped" "$TMP/fo"
finish
