# Remote-write receivers for tests and benchmarks (sourced; not a test itself): Prometheus 2.42
# with --web.enable-remote-write-receiver and VictoriaMetrics, each on 127.0.0.1 on a free
# port with its data under a directory of ours, stopped by PID (lib.sh's cleanup kills PIDS).
# Needs free_port (tests/integration/lib.sh).
#   rw_need                  fail (CI=true) or skip when prometheus / victoria-metrics are missing
#   vm_start DIR             sets VM_PORT, VM_PID, VM_URL; 0 once /health answers
#   prom_start DIR           sets PROM_PORT, PROM_PID, PROM_URL; 0 once /-/ready answers
#   vm_counts                "SERIES SAMPLES" of everything stored (after a flush)
#   promq URL QUERY TIME     instant query, the first result's value on stdout
VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}
PROM_BIN=${PROM_BIN:-prometheus}

rw_need() {
  if [ ! -x "$VM_BIN" ] || ! command -v "$PROM_BIN" >/dev/null; then
    [ "${CI:-}" = true ] && { echo "FAIL: prometheus or victoria-metrics missing (scripts/install-deps.sh)"; exit 1; }
    skip "prometheus or victoria-metrics not installed (scripts/install-deps.sh installs them)"
  fi
}

vm_start() {
  mkdir -p "$1"
  VM_PORT=$(free_port)
  # retention: backfills write months-old samples, which the default (1 month) would drop
  "$VM_BIN" -storageDataPath "$1/data" -httpListenAddr "127.0.0.1:$VM_PORT" \
    -retentionPeriod 100y -loggerLevel ERROR >"$1/vm.log" 2>&1 &
  VM_PID=$!
  PIDS+=($VM_PID)
  VM_URL="http://127.0.0.1:$VM_PORT"
  local i
  for ((i = 0; i < 1200; i++)); do
    curl -sf "$VM_URL/health" >/dev/null 2>&1 && return 0
    kill -0 "$VM_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "victoria-metrics did not start:" >&2
  tail -5 "$1/vm.log" >&2
  return 1
}

prom_start() {
  mkdir -p "$1"
  PROM_PORT=$(free_port)
  printf 'global: {scrape_interval: 1m}\n' >"$1/prom.yml" # no scrape jobs: only what we write
  "$PROM_BIN" --config.file="$1/prom.yml" --storage.tsdb.path="$1/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
    --storage.tsdb.retention.time=100y --log.level=warn >"$1/prom.log" 2>&1 &
  PROM_PID=$!
  PIDS+=($PROM_PID)
  PROM_URL="http://127.0.0.1:$PROM_PORT"
  local i
  for ((i = 0; i < 1200; i++)); do
    curl -sf "$PROM_URL/-/ready" >/dev/null 2>&1 && return 0
    kill -0 "$PROM_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "prometheus did not start:" >&2
  tail -5 "$1/prom.log" >&2
  return 1
}

# Everything VictoriaMetrics holds, from /api/v1/export (one JSON line per series), as
# "series samples"; optional start/end (RFC 3339 or unix seconds) narrow it to a range.
vm_counts() {
  curl -sf "$VM_URL/internal/force_flush" >/dev/null
  curl -sS "$VM_URL/api/v1/export" --data-urlencode 'match[]={__name__!=""}' \
    ${1:+--data-urlencode "start=$1"} ${2:+--data-urlencode "end=$2"} |
    node -e 'let s=0,n=0;require("readline").createInterface({input:process.stdin}).on("line",l=>{if(!l)return;n++;s+=JSON.parse(l).values.length}).on("close",()=>console.log(n+" "+s))'
}

promq() { # URL QUERY TIME
  curl -sS "$1/api/v1/query" --data-urlencode "query=$2" --data-urlencode "time=$3" |
    node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const j=JSON.parse(d);const r=j.data&&j.data.result;console.log(r&&r.length?r[0].value[1]:"none:"+d.slice(0,200))})'
}

# Everything Prometheus holds in the 2 h before TIME, as "series samples": the raw samples of
# an instant query for a range selector (count_over_time would drop __name__, and _sum and
# _count of one histogram would then collide).
prom_counts() { # URL TIME
  curl -sS "$1/api/v1/query" --data-urlencode 'query={__name__=~".+"}[2h]' --data-urlencode "time=$2" |
    node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const r=JSON.parse(d).data.result;console.log(r.length+" "+r.reduce((a,s)=>a+s.values.length,0))})'
}
