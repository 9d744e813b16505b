#!/usr/bin/env bash
# diorama load's defaults against Debian's nginx (issue 8, item 10), read from nginx's own
# access log: a bare `load URL` sends GET without a body (as wrk, vegeta and k6 do); a body,
# --corpus or --mode makes it POST (and -X still wins); a run in which no request succeeds
# (a route that answers only 405) says so in one line and exits 4.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip "nginx not installed (scripts/install-deps.sh installs nginx-light)"
PORT=$(free_port)
mkdir -p "$TMP/ng/logs"
cat >"$TMP/ng/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log stderr; pid $TMP/ng/nginx.pid;
events {}
http { client_body_temp_path $TMP/ng;
  log_format m '\$request_method \$request_uri \$content_length \$status';
  access_log $TMP/ng/access.log m;
  server { listen 127.0.0.1:$PORT;
    location /only405 { return 405; }
    location / { return 200 "ok"; } } }
CONF
"$NGINX" -p "$TMP/ng" -c "$TMP/ng/nginx.conf" 2>"$TMP/ng/err" &
PIDS+=($!)
wait_port "$PORT" || { cat "$TMP/ng/err"; skip "nginx did not start"; }
U=http://127.0.0.1:$PORT

log_since() { tail -n +$(($1 + 1)) "$TMP/ng/access.log"; } # lines after the first N
lines() { wc -l <"$TMP/ng/access.log"; }
run_load() { # run_load PATH ARGS... : leaves the run's access-log lines in $TMP/run.log
  local before
  sync
  before=$(lines)
  "$DIORAMA" load "$U$1" --rate 50 -d 1 -q "${@:2}" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  sleep 0.2 # nginx writes its log line after the response
  log_since "$before" >"$TMP/run.log"
}
methods() { awk '{print $1, $3}' "$TMP/run.log" | sort | uniq -c | awk '{print $2 " body=" $3 " x" $1}' | tr '\n' ' '; }

run_load /bare
check "bare: exit 0 (got $RC)" [ "$RC" = 0 ]
check "bare: 50 requests, all GET without a body ($(methods))" [ "$(methods)" = "GET body=- x50 " ]
check "bare: the report says GET" grep -q '^Running 1s test @ GET ' "$TMP/out"

run_load /body --body '{"a":1}'
check "--body: POST with the body ($(methods))" [ "$(methods)" = "POST body=7 x50 " ]
run_load /mode --mode normal_traffic
check "--mode: POST with corpus bodies ($(methods))" \
  [ "$(awk '$1 != "POST" || $3 == "-"' "$TMP/run.log" | wc -l)" = 0 -a "$(wc -l <"$TMP/run.log")" = 50 ]
run_load /put --body x -X PUT
check "-X PUT --body: PUT ($(methods))" [ "$(methods)" = "PUT body=1 x50 " ]

# Nothing succeeds: one clear line, exit 4.
run_load /only405
check "405 only: exit 4 (got $RC)" [ "$RC" = 4 ]
check "405 only: one line says no request succeeded" \
  [ "$(grep -c '^diorama: load: no request succeeded: all 50 responses were 4xx/5xx (most: 405, 50 times); 405: the route does not take GET' "$TMP/err")" = 1 ]
check "405 only: the report is still printed" grep -q '405=50' "$TMP/out"
finish
