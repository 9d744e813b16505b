# Shared by the remote write benchmarks (remote_write_bench.sh, remote_write_week.sh); source
# it. VictoriaMetrics on a free port with its own -storageDataPath under $TMP, stopped by PID;
# CPU seconds of a process from /proc; replaying recorded remote write bodies with curl.
#   vm_start DIR      starts VictoriaMetrics (VM_BIN) storing in DIR; sets VMPID, VMURL
#   vm_stop           stops it (by PID) and waits
#   cpu_s PID         user+system CPU seconds the process has used so far
#   rw_record ARGS..  runs `diorama run ARGS --remote-write` into tests/integration/
#                     rw_fake_receiver.py, which keeps every body: $TMP/rec/*-v1.snappy
#   rw_replay URL N   posts every recorded body to URL with curl, N in parallel; prints wall s
#   median            median of the numbers on stdin
#   jget FILE EXPR    a JavaScript expression over the JSON in FILE (as j)
VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}
VMPID=
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jget() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(eval(process.argv[2]))' "$1" "$2"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$1/stat"; }
now_s() { date +%s.%N; }
vm_start() {
  local port
  port=$(free_port)
  rm -rf "$1"
  "$VM_BIN" -storageDataPath "$1" -httpListenAddr "127.0.0.1:$port" -retentionPeriod 100y \
    -search.disableCache -loggerLevel ERROR >"$1.log" 2>&1 &
  VMPID=$!
  VMURL=http://127.0.0.1:$port
  for _ in $(seq 400); do curl -sf "$VMURL/health" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "victoria-metrics did not start: $(tail -3 "$1.log")" >&2
  return 1
}
vm_stop() {
  [ -n "$VMPID" ] || return 0
  kill "$VMPID" 2>/dev/null
  wait "$VMPID" 2>/dev/null || true
  VMPID=
}
rw_record() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  rm -rf "$TMP/rec"
  mkdir -p "$TMP/rec"
  python3 "$root/tests/integration/rw_fake_receiver.py" "$TMP/rec/port" "$TMP/rec" 2>"$TMP/rec.err" &
  local fpid=$!
  for _ in $(seq 400); do [ -s "$TMP/rec/port" ] && break; sleep 0.05; done
  "$D" run "$@" -q --remote-write "http://127.0.0.1:$(cat "$TMP/rec/port")/api/v1/write" \
    --shutdown-timeout 300s >/dev/null
  kill "$fpid"
  wait "$fpid" 2>/dev/null || true
  : >"$TMP/replay.cfg"
  for f in "$TMP"/rec/*-v1.snappy; do
    printf 'url = "@URL@"\ndata-binary = "@%s"\noutput = "/dev/null"\nfail\n%s\nnext\n' "$f" \
      'header = "Content-Encoding: snappy"
header = "Content-Type: application/x-protobuf"
header = "X-Prometheus-Remote-Write-Version: 0.1.0"' >>"$TMP/replay.cfg"
  done
}
rw_replay() {
  local t0 t1
  sed -e "s|@URL@|$1|" -e '$d' "$TMP/replay.cfg" >"$TMP/replay.run" # no `next` after the last
  t0=$(now_s)
  curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max "$2" -K "$TMP/replay.run" >/dev/null
  t1=$(now_s)
  echo "$t1 - $t0" | bc -l
}
