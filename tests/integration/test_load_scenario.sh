#!/usr/bin/env bash
# diorama load --scenario: requests go to the scenario's HTTP entry routes under the URL, in
# the proportions of their rates, with the method each route names; the same seed sends the
# same routes whatever -t is. nginx logs method, path, content type and tag of every request.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip "nginx not installed (scripts/install-deps.sh installs nginx-light)"
PORT=$(free_port)
mkdir -p "$TMP/ng"
cat >"$TMP/ng/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log stderr; pid $TMP/ng/nginx.pid;
events {}
http { log_format r '\$request_method \$uri \$content_type \$http_x_traffic_type';
  client_body_temp_path $TMP/ng; keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; access_log $TMP/ng/access.log r;
    location / { return 200 "ok"; } } }
CONF
"$NGINX" -p "$TMP/ng" -c "$TMP/ng/nginx.conf" 2>"$TMP/ng/err" &
PIDS+=($!)
wait_port "$PORT" || { cat "$TMP/ng/err"; skip "nginx did not start"; }
U=http://127.0.0.1:$PORT/api/

# shop: GET / at 40/s and POST /checkout at 300/m -> 8/9 and 1/9 of the requests
drive() { # drive NAME ARGS...: one run, its access log lines in $TMP/NAME.log
  local name=$1; shift
  : >"$TMP/ng/access.log"
  "$DIORAMA" load "$@" --json "$TMP/$name.json" >"$TMP/$name.out" 2>&1
  local rc=$?
  kill -USR1 "$(cat "$TMP/ng/nginx.pid")" # reopen: flushes the buffered log
  sleep 0.3
  cp "$TMP/ng/access.log" "$TMP/$name.log"
  return $rc
}
drive t1 --scenario shop "$U" --rate 1000 -d 2 -t 1 --seed 5
check "shop: exit 0" [ $? = 0 ]
check "shop: 2000 requests logged" [ "$(wc -l <"$TMP/t1.log")" = 2000 ]
get=$(grep -c '^GET /api/ - DIORAMA_NORMAL_TRAFFIC$' "$TMP/t1.log")
post=$(grep -c '^POST /api/checkout application/json DIORAMA_NORMAL_TRAFFIC$' "$TMP/t1.log")
echo "shop at 1000/s for 2 s: GET /api/ $get, POST /api/checkout $post (expected 1778 / 222)"
check "shop: every request is one of the two routes ($get + $post)" [ $((get + post)) = 2000 ]
# binomial(2000, 1/9): sd 14; 5 sd either side
check "shop: POST /checkout share 1/9 ($post of 2000)" [ "$post" -ge 152 ] && [ "$post" -le 292 ]
check "shop: per-route results match nginx's log ($get/$post)" [ "$(json "$TMP/t1.json" \
  'j.routes.map(r => r.method + " " + r.path + " " + r.requests + " " + r.errors).join()')" \
  = "GET / $get 0,POST /checkout $post 0" ]
check "shop: per-route latency present" [ "$(json "$TMP/t1.json" \
  'j.routes.every(r => r.latency_us.p50 >= 1 && r.latency_us.p50 <= r.latency_us.max)')" = true ]
check "shop: JSON names the scenario, method mixed" \
  [ "$(json "$TMP/t1.json" 'j.scenario + " " + j.method')" = "shop mixed" ]
check "shop: the routes and shares are announced" \
  grep -q 'scenario shop, 2 routes: GET / 88.9%, POST /checkout 11.1%' "$TMP/t1.out"

drive t2 --scenario shop "$U" --rate 1000 -d 2 -t 2 --seed 5
post2=$(grep -c '^POST /api/checkout' "$TMP/t2.log")
check "shop: same seed, -t 2: the same $post POSTs ($post2)" [ "$post2" = "$post" ]
drive s9 --scenario shop "$U" --rate 1000 -d 2 -t 1 --seed 9
check "shop: another seed, another mix" [ "$(grep -c '^POST /api/checkout' "$TMP/s9.log")" != "$post" ]

# without --rate the scenario's own total rate is used (inference: 270/s over 2 routes)
drive inf --scenario inference "$U" -d 1 --mode error_injection
check "inference: rate from the scenario (270/s)" [ "$(json "$TMP/inf.json" j.target_rate)" = 270 ]
check "inference: both routes, POST only" [ "$(cut -d' ' -f1,2 "$TMP/inf.log" | sort -u | tr '\n' ,)" \
  = "POST /api/v1/chat/completions,POST /api/v1/embeddings," ]
check "inference: error_injection applies on the routes (text/plain seen)" \
  grep -q '^POST /api/v1/.* text/plain DIORAMA_ERROR_INJECTION$' "$TMP/inf.log"

# bad input: unknown scenario, scenario without HTTP routes, -X with --scenario
"$DIORAMA" load --scenario "$TMP/none.yaml" "$U" -d 1 >"$TMP/o" 2>&1
check "missing scenario file: exit 3" [ $? = 3 ]
printf 'name: q\nservices:\n  - name: w\n    operations:\n      - name: consume\n        rate: 5/s\n' \
  >"$TMP/q.yaml"
"$DIORAMA" load --scenario "$TMP/q.yaml" "$U" -d 1 >"$TMP/o" 2>&1
check "scenario without HTTP routes: exit 3" [ $? = 3 ]
check "scenario without HTTP routes: says so" grep -q 'no HTTP entry route' "$TMP/o"
"$DIORAMA" load --scenario shop -X GET "$U" -d 1 >"$TMP/o" 2>&1
check "-X with --scenario: exit 2" [ $? = 2 ]
finish
