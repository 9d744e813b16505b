# Shared by the HTTP benchmarks (load_bench.sh, serve_bench.sh); source it after `cd` to the
# repository root. Parses --seconds/--rounds into SECS/ROUNDS, makes TMP (removed on exit with
# every background job), and defines:
#   port            a free TCP port on 127.0.0.1
#   wait_port P     until 127.0.0.1:P accepts (5 s at most)
#   median          median of the numbers on stdin
#   jget FILE EXPR  a JavaScript expression over the JSON in FILE (as j)
#   start_nginx     nginx (1 worker, `return 200 "ok"`) pinned to core 1; sets NPORT
set -euo pipefail
BUILD=${BUILD:-build}
D=$BUILD/diorama
SECS=5
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in --seconds) SECS=$2; shift ;; --rounds) ROUNDS=$2; shift ;; *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 77; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jget() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(eval(process.argv[2]))' "$1" "$2"; }
start_nginx() {
  NPORT=$(port)
  cat >"$TMP/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log stderr; pid $TMP/nginx.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; client_body_temp_path $TMP;
  server { listen 127.0.0.1:$NPORT; location / { return 200 "ok"; } } }
CONF
  taskset -c 1 "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx.err" &
  wait_port "$NPORT"
}
