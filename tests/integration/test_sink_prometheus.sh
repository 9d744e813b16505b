#!/usr/bin/env bash
# An independent remote-write client: Debian's Prometheus scrapes `diorama run --prom-listen`
# and remote-writes to diorama sink. The sink answers 204, Prometheus counts no failed samples,
# and once its queue is drained the samples it says it sent equal the samples the sink counted.
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || skip "prometheus not installed"
command -v curl >/dev/null || skip "curl not installed"

"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/sink.port" --json "$TMP/res.json" -q \
  >"$TMP/sink.out" 2>"$TMP/sink.err" &
SINK=$!
PIDS+=($SINK)
for _ in $(seq 200); do [ -s "$TMP/sink.port" ] && break; sleep 0.05; done
SPORT=$(cat "$TMP/sink.port")
DPORT=$(free_port)
PPORT=$(free_port)

"$DIORAMA" run minimal --null --prom-listen "127.0.0.1:$DPORT" --duration 8s -q \
  >"$TMP/run.out" 2>&1 &
RUN=$!
PIDS+=($RUN)

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: diorama
    static_configs: [{targets: ["127.0.0.1:$DPORT"]}]
remote_write:
  - url: http://127.0.0.1:$SPORT/api/v1/write
    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms}
EOF
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
  --web.listen-address="127.0.0.1:$PPORT" >"$TMP/prom.log" 2>&1 &
PROM=$!
PIDS+=($PROM)
wait_port "$PPORT" 20 || { fail "prometheus did not start: $(tail -5 "$TMP/prom.log")"; finish; }

wait "$RUN" # diorama ran for 8 s while Prometheus scraped it every second

prom_metric() { # sum of a Prometheus self-metric's samples, 0 when absent
  curl -s "http://127.0.0.1:$PPORT/metrics" |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d\n", s }'
}
# Scrapes of the stopped target still produce a few samples (up, scrape_*) every second, so
# compare in a quiet moment: the sent counter unchanged around the sink's count, nothing pending.
sent=-1 got=-2
for _ in $(seq 100); do
  a=$(prom_metric prometheus_remote_storage_samples_total)
  pend=$(prom_metric prometheus_remote_storage_samples_pending)
  got=$(curl -s "http://127.0.0.1:$SPORT/status" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).received.samples))')
  b=$(prom_metric prometheus_remote_storage_samples_total)
  sent=$b
  [ "$a" = "$b" ] && [ "$pend" = 0 ] && [ "$got" = "$b" ] && [ "$b" -gt 0 ] && break
  sleep 0.1
done
failed=$(prom_metric prometheus_remote_storage_samples_failed_total)
retried=$(prom_metric prometheus_remote_storage_samples_retried_total)
dropped=$(prom_metric prometheus_remote_storage_samples_dropped_total)
check "Prometheus sent samples ($sent)" [ "$sent" -gt 0 ]
check "sink received what Prometheus sent ($got = $sent)" [ "$got" = "$sent" ]
check "Prometheus: no failed samples ($failed)" [ "$failed" = 0 ]
check "Prometheus: no retried samples ($retried)" [ "$retried" = 0 ]
check "Prometheus: no dropped samples ($dropped)" [ "$dropped" = 0 ]

kill -TERM "$PROM"
wait "$PROM"
kill -TERM "$SINK"
wait "$SINK"
rc=$?
check "sink exit 0 (got $rc)" [ "$rc" = 0 ]
r=$TMP/res.json
check "remote-write requests answered 2xx only" [ "$(json "$r" 'j.responses["4xx"]+j.responses["5xx"]')" = 0 ]
check "samples counted under job diorama" [ "$(json "$r" 'j.services.samples.diorama')" -gt 0 ]
check "diorama's own metrics arrived by name" \
  [ "$(json "$r" 'Object.keys(j.names.samples).some(n=>n.startsWith("diorama_"))')" = true ]
check "no invalid samples" [ "$(json "$r" j.invalid.samples)" = 0 ]
finish
