#!/usr/bin/env bash
# diorama load over TLS (https URLs) against Debian's nginx with a throw-away self-signed
# certificate: requests succeed on kept-alive TLS connections, and a TLS failure (plain
# HTTP on the other end) is counted as connect errors without a crash.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip "nginx not installed"
command -v openssl >/dev/null || skip "openssl CLI missing"
"$NGINX" -V 2>&1 | grep -q http_ssl_module || skip "nginx without TLS"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 || skip "cannot make a certificate"
PORT=$(free_port)
PLAIN=$(free_port)
mkdir -p "$TMP/ng"
cat >"$TMP/ng/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log stderr; pid $TMP/ng/nginx.pid;
events {}
http { access_log off; client_body_temp_path $TMP/ng;
  server { listen 127.0.0.1:$PORT ssl; ssl_certificate $TMP/cert.pem;
           ssl_certificate_key $TMP/key.pem; location / { return 200 "ok"; } }
  server { listen 127.0.0.1:$PLAIN; location / { return 200 "ok"; } } }
CONF
"$NGINX" -p "$TMP/ng" -c "$TMP/ng/nginx.conf" 2>"$TMP/ng/err" &
PIDS+=($!)
wait_port "$PORT" || { cat "$TMP/ng/err"; skip "nginx did not start"; }

"$DIORAMA" load "https://localhost:$PORT/" --rate 200 -d 2 -q --json "$TMP/tls.json" >"$TMP/out" 2>&1
check "https: exit 0" [ $? = 0 ]
check "https: 400 answered, no errors" [ "$(json "$TMP/tls.json" 'j.requests + "/" + j.errors')" = 400/0 ]
"$DIORAMA" load "https://127.0.0.1:$PORT/" --rate max -c 4 -t 1 -d 1 -q --json "$TMP/tmax.json" >"$TMP/out" 2>&1
check "https closed loop: many answers" [ "$(json "$TMP/tmax.json" 'j.requests > 100 && j.errors == 0')" = true ]
# TLS to a plain HTTP port: the handshake fails; counted as connect errors, run completes.
"$DIORAMA" load "https://127.0.0.1:$PLAIN/" --rate 50 -d 1 -q --json "$TMP/bad.json" >"$TMP/out" 2>&1
check "TLS failure: exit 4" [ $? = 4 ]
check "TLS failure: connect errors counted" [ "$(json "$TMP/bad.json" 'j.errors_by_kind.connect >= 45')" = true ]
finish
