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
finish
