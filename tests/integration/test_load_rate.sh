#!/usr/bin/env bash
# diorama load against Debian's nginx: the open-loop rate is kept (requests == rate x duration
# within 1%) at 1,000 and 10,000 requests/s, and closed loop (--rate max) works. Counts only.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip "nginx not installed (scripts/install-deps.sh installs nginx-light)"
PORT=$(free_port)
mkdir -p "$TMP/ng/logs"
cat >"$TMP/ng/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log stderr; pid $TMP/ng/nginx.pid;
events {}
http { access_log off; client_body_temp_path $TMP/ng; keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; location / { return 200 "ok"; } } }
CONF
"$NGINX" -p "$TMP/ng" -c "$TMP/ng/nginx.conf" 2>"$TMP/ng/err" &
PIDS+=($!)
wait_port "$PORT" || { cat "$TMP/ng/err"; skip "nginx did not start"; }
U=http://127.0.0.1:$PORT/

for rate in 1000 10000; do
  "$DIORAMA" load "$U" --rate $rate -d 3 -q --json "$TMP/r$rate.json" >"$TMP/out" 2>&1
  check "rate $rate: exit 0" [ $? = 0 ]
  n=$(json "$TMP/r$rate.json" j.requests)
  want=$((rate * 3))
  echo "rate $rate: $n of $want requests, late $(json "$TMP/r$rate.json" j.late)"
  check "rate $rate: requests within 1% of $want ($n)" \
    [ "$(json "$TMP/r$rate.json" "Math.abs(j.requests - $want) <= $want / 100")" = true ]
  check "rate $rate: no errors" [ "$(json "$TMP/r$rate.json" j.errors)" = 0 ]
  # every sent request has a send delay; each was handed to a connection either on schedule
  # (a scheduler-jitter sample) or after waiting for a busy one (connection_waits)
  acc=$(json "$TMP/r$rate.json" \
    'j.send_delay_us.count + "/" + (j.scheduler_jitter_us.count + j.connection_waits)')
  check "rate $rate: send delays == jitter samples + connection waits == responses ($acc)" \
    [ "$acc" = "$n/$n" ]
  check "rate $rate: jitter percentiles ordered" [ "$(json "$TMP/r$rate.json" \
    'const s = j.scheduler_jitter_us; s.p50 >= 1 && s.p50 <= s.p99 && s.p99 <= s.max')" = true ]
done

# nginx closes a keep-alive connection after keepalive_requests by default (1000): the
# client must reopen without counting an error.
sed -i 's/keepalive_requests 1000000;/keepalive_requests 100;/' "$TMP/ng/nginx.conf"
kill -HUP "$(cat "$TMP/ng/nginx.pid")"
sleep 0.5
"$DIORAMA" load "$U" --rate 2000 -d 2 -q --json "$TMP/ka.json" >"$TMP/out" 2>&1
check "keepalive_requests 100: 4000 answered, no errors" \
  [ "$(json "$TMP/ka.json" 'j.requests + "/" + j.errors')" = 4000/0 ]

"$DIORAMA" load "$U" --rate max -c 20 -t 2 -d 2 -X GET -q --json "$TMP/max.json" >"$TMP/out" 2>&1
check "closed loop: exit 0" [ $? = 0 ]
check "closed loop: marked so" [ "$(json "$TMP/max.json" j.closed_loop)" = true ]
check "closed loop: many requests, no errors" \
  [ "$(json "$TMP/max.json" 'j.requests > 1000 && j.errors == 0')" = true ]
check "closed loop: no send-time histograms (there is no schedule)" [ "$(json "$TMP/max.json" \
  'j.scheduler_jitter_us.count + j.send_delay_us.count + j.connection_waits')" = 0 ]
finish
