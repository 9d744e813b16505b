#!/usr/bin/env bash
# diorama's command line: help, usage errors, scenario errors and their exit codes.
. "$(dirname "$0")/lib.sh"

expect_rc() { # expect_rc CODE "stderr substring" args...
  local want=$1 msg=$2; shift 2
  "$DIORAMA" "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  check "diorama $* exits $want (got $rc)" [ "$rc" = "$want" ]
  [ -z "$msg" ] || check "diorama $*: stderr mentions '$msg' (got: $(head -c 300 "$TMP/err"))" grep -qF -- "$msg" "$TMP/err"
}

expect_rc 0 "" --help
expect_rc 0 "" run --help
check "run --help documents --otlp-file" grep -q -- "--otlp-file" "$TMP/out"
check "run --help documents exit codes" grep -q "exit codes" "$TMP/out"
expect_rc 2 "" 
expect_rc 2 "unknown command 'fly'" fly
expect_rc 2 "unknown option '--bogus'" run --bogus
expect_rc 2 "--duration: expected a duration like 10m, got '10x'" run --duration 10x
expect_rc 2 "--speed: expected a positive number or max, got '-1'" run --speed -1
expect_rc 2 "--seed" run --seed abc
expect_rc 2 "--signals" run --signals traces,bogus
expect_rc 2 "--compression" run --compression brotli
expect_rc 2 "option '--otlp' needs a value" run --otlp
expect_rc 2 "--start" run --start yesterday
expect_rc 2 "--header" run --header "$(printf 'X-A: 1\r\nX-B: 2')"
expect_rc 2 "--header" run --header novalue
expect_rc 2 "unexpected argument 'extra'" run inference extra
expect_rc 3 "no-such-file.yaml" run no-such-file.yaml --null
"$DIORAMA" scenarios show inference | sed 's/max_batch: 8$/max_batch: x/' >"$TMP/bad.yaml"
line=$(grep -n 'max_batch: x' "$TMP/bad.yaml" | cut -d: -f1)
check "test setup: a max_batch was broken" [ -n "$line" ]
msg="$TMP/bad.yaml:$line:16: models[1].max_batch: expected a positive integer, got 'x'"
expect_rc 3 "$msg" run "$TMP/bad.yaml" --null
expect_rc 3 "$msg" scenarios validate "$TMP/bad.yaml"
expect_rc 0 "" scenarios list
check "scenarios list names inference" grep -q '^inference ' "$TMP/out"
expect_rc 0 "" scenarios show inference
cp "$TMP/out" "$TMP/inference.yaml"
check "show prints YAML that validates" "$DIORAMA" scenarios validate "$TMP/inference.yaml"
expect_rc 2 "no built-in scenario 'nope'" scenarios show nope
expect_rc 2 "" scenarios frobnicate
# An unwritable output is a runtime error, reported before anything runs.
expect_rc 1 "--otlp-file" run minimal --otlp-file /nonexistent/dir/x.jsonl --duration 1s
# Nothing delivered: OTLP to a closed port, tiny retry budget via the OTLP timeout.
port=$(free_port)
OTEL_EXPORTER_OTLP_TIMEOUT=200 expect_rc 4 "" run minimal --otlp "http://127.0.0.1:$port" \
  --speed max --duration 2s --shutdown-timeout 1s -q

# Values that do not fit are refused at parse time with exit 2, never clamped or retried.
expect_rc 2 '--otlp: OTLP endpoint "http://127.0.0.1:99999": the port must be a number 1..65535' \
  run minimal --otlp http://127.0.0.1:99999 --duration 1s --shutdown-timeout 1s
expect_rc 2 'must start with http://, https:// or grpc://' run minimal --otlp 127.0.0.1:4318 --duration 1s
expect_rc 2 'has no host' run minimal --otlp http:///v1 --duration 1s
expect_rc 2 "--seed: expected an integer 0..18446744073709551615, got '18446744073709551616'" \
  run minimal --seed 18446744073709551616 --null --duration 1s
expect_rc 0 "" run minimal --seed 18446744073709551615 --null --speed max --duration 1s -q
# Timestamps past 2262 (int64 ns) are refused; past 2554 uint64 ns would wrap to 2015.
expect_rc 2 "--start: expected RFC 3339, unix seconds or now, before 2262-04-11T23:47:16Z, got '2600-01-01T00:00:00Z'" \
  run minimal --start 2600-01-01T00:00:00Z --speed max --duration 10s --null
expect_rc 2 "--start" run minimal --start 20000000000 --speed max --duration 10s --null
# the last second with a fraction past INT64_MAX ns (found in review: the check came before it)
expect_rc 2 "--start" run minimal --start 2262-04-11T23:47:16.9Z --speed max --duration 10s --null
expect_rc 2 "--start plus --duration ends after 2262-04-11T23:47:16Z" \
  run minimal --start 2262-04-11T23:00:00Z --speed max --duration 2h --null
"$DIORAMA" run minimal --start 2262-04-11T23:00:00Z --speed max --duration 10m --metric-interval 1m \
  --otlp-file "$TMP/late.jsonl" -q >/dev/null
check "a start in 2262 is kept, not wrapped" grep -q '"timeUnixNano":"92233[0-9]\{14\}"' "$TMP/late.jsonl"

# --run-id: checked, and carried on every resource.
expect_rc 2 "--run-id: expected 1 to 63 of A-Z a-z 0-9 . _ : -, got 'a b'" run minimal --run-id 'a b' --null
expect_rc 2 "--run-id" run minimal --run-id "$(printf 'x%.0s' $(seq 64))" --null
"$DIORAMA" run minimal --run-id nightly-42 --speed max --duration 10s --otlp-file "$TMP/rid.jsonl" \
  --summary-json "$TMP/rid.sum" -q >/dev/null
check "--run-id is on the resources" grep -q '"key":"diorama.run_id","value":{"stringValue":"nightly-42"}' "$TMP/rid.jsonl"
check "--run-id is not mixed with a derived one" [ "$(grep -o '"diorama.run_id","value":{"stringValue":"[^"]*"' "$TMP/rid.jsonl" | sort -u | wc -l)" = 1 ]
check "--run-id is in the summary" [ "$(json "$TMP/rid.sum" j.run_id)" = nightly-42 ]
# The derived id: the same reproducible run keeps it; real-time runs, another start or an
# edited copy of the scenario with the same name get another.
rid() { "$DIORAMA" run "$@" --null --summary-json "$TMP/r.sum" -q >/dev/null; json "$TMP/r.sum" j.run_id; }
a=$(rid minimal --speed max --duration 10s)
b=$(rid minimal --speed max --duration 10s)
c=$(rid minimal --speed max --duration 10s --start 2026-02-01T00:00:00Z)
check "same scenario, seed and start: same run id ($a, $b)" [ -n "$a" -a "$a" = "$b" ]
check "another start: another run id ($a, $c)" [ "$a" != "$c" ]
r1=$(rid minimal --speed 100 --duration 1s)
r2=$(rid minimal --speed 100 --duration 1s)
check "two real-time runs: two run ids ($r1, $r2)" [ -n "$r1" -a "$r1" != "$r2" ]
"$DIORAMA" scenarios show minimal >"$TMP/minimal.yaml"
mkdir -p "$TMP/edited"
{ cat "$TMP/minimal.yaml"; echo "# edited"; } >"$TMP/edited/minimal.yaml"
e1=$(rid "$TMP/minimal.yaml" --speed max --duration 10s)
e2=$(rid "$TMP/edited/minimal.yaml" --speed max --duration 10s)
check "an edited copy with the same name: another run id ($e1, $e2)" [ -n "$e1" -a "$e1" != "$e2" ]
finish
