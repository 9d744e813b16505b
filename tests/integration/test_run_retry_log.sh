#!/usr/bin/env bash
# Retry warnings do not flood stderr: against `diorama sink --fail 503:20%`, diorama writes at
# most one problem line per output per 5 s interval (plus the first one at once and a last one
# at the end), with counts by cause; with -q it writes none (the summary still counts them).
. "$(dirname "$0")/lib.sh"

"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/sink.port" --fail 503:20% -q \
  >"$TMP/sink.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do [ -s "$TMP/sink.port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$TMP/sink.port")"

run() { # name, extra args...
  local name=$1; shift
  "$DIORAMA" run inference --otlp "$url" --speed max --duration 20s --batch-size 50 \
    --shutdown-timeout 60s --summary-json "$TMP/$name.sum" "$@" >/dev/null 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}

run loud
failed=$(json "$TMP/loud.sum" 'Object.values(j.signals).reduce((a, x) => a + x.failed_requests, 0)')
wall=$(json "$TMP/loud.sum" 'Math.floor(j.wall_seconds)')
lines=$(grep -c 'warning: otlp_http' "$TMP/loud.err")
allowed=$((3 + wall / 5)) # the first at once, one per 5 s interval, the last at the end
check "the sink failed many requests ($failed)" [ "$failed" -gt $((2 * allowed)) ]
check "run exits 0 or 5 (got $(cat "$TMP/loud.rc"))" grep -qx '[05]' "$TMP/loud.rc"
check "at most $allowed warning lines in ${wall}s for $failed failed requests (got $lines: $(head -3 "$TMP/loud.err"))" \
  [ "$lines" -le "$allowed" ]
check "the digest counts failures by cause" grep -q 'failures in the last .* (HTTP 503 x[0-9]*)' "$TMP/loud.err"

run quiet -q
failed=$(json "$TMP/quiet.sum" 'Object.values(j.signals).reduce((a, x) => a + x.failed_requests, 0)')
check "-q run: the sink failed requests ($failed)" [ "$failed" -gt 0 ]
check "-q: nothing on stderr (got: $(head -3 "$TMP/quiet.err"))" [ ! -s "$TMP/quiet.err" ]
finish
