#!/usr/bin/env bash
# Fleets and replicas end to end (docs/scenario-format.md "count", "profiles", "instances";
# docs/metrics.md): instances: N gives N resources with their own service.instance.id, spans and
# series, requests spread over them; count: expands name patterns (hosts and services, a host
# pattern puts service k on host k); every host reports the full host metrics set with OTel
# names and units and bounded values, counters never go back; diorama.state follows the
# timeline in OTLP and in /metrics; the series the run emits stay within what validate counts.
. "$(dirname "$0")/lib.sh"
START=2026-01-01T00:00:00Z
T0=1767225600
Y="$SRC/tests/data/instances.yaml"
"$DIORAMA" run "$Y" --speed max --duration 5m --seed 1 --start $START --metric-interval 30s -q \
  --otlp-file "$TMP/a.jsonl" >/dev/null
check "run exits 0" [ $? = 0 ]
node "$SRC/tests/node/hostmetrics_check.js" "$TMP/a.jsonl" $T0 >"$TMP/s.json"
v() { json "$TMP/s.json" "$1"; }

# instances
check "api: 3 instances with spans ($(v 'Object.keys(j.instances.api).join()'))" \
  [ "$(v 'Object.keys(j.instances.api).sort().join()')" = "api-0,api-1,api-2" ]
check "db: 2 instances" [ "$(v 'Object.keys(j.instances.db).sort().join()')" = "db-0,db-1" ]
# round-robin: the instances' span counts differ by at most a request's spans
check "api spans spread evenly ($(v 'JSON.stringify(j.instances.api)'))" \
  [ "$(v 'const c=Object.values(j.instances.api);Math.max(...c)-Math.min(...c)<=3')" = true ]
req=$(jq -r '.resourceMetrics[]? | select(any(.scopeMetrics[].metrics[]; .name=="http.server.requests"))
  | .resource.attributes[] | select(.key=="service.instance.id") | .value.stringValue' "$TMP/a.jsonl" | sort -u | tr '\n' ' ')
check "every instance has its own request series ($req)" \
  [ "$req" = "api-0 api-1 api-2 db-0 db-1 worker1-0 worker2-0 " ]

# count: and host patterns
check "hosts expanded ($(v 'j.hosts.join()'))" [ "$(v 'j.hosts.join()')" = "db01,gpu01,web01,web02,web03" ]
wh=$(jq -r '.resourceSpans[]? | .resource.attributes | (map({(.key): .value.stringValue}) | add)
  | select(.["service.name"] | startswith("worker")) | .["service.name"] + "@" + .["host.name"]' \
  "$TMP/a.jsonl" | sort -u | tr '\n' ' ')
check "service k on host k ($wh)" [ "$wh" = "worker1@web01 worker2@web02 " ]

# the host metrics set: names, units, kinds
for m in "system.cpu.time s counter" "system.cpu.utilization 1 gauge" \
  "system.cpu.load_average.1m {thread} gauge" "system.cpu.load_average.5m {thread} gauge" \
  "system.cpu.load_average.15m {thread} gauge" "system.memory.usage By updown" \
  "system.memory.utilization 1 gauge" "system.disk.io By counter" \
  "system.disk.operations {operation} counter" "system.filesystem.usage By updown" \
  "system.network.io By counter" "system.network.errors {error} counter" \
  "system.network.packets {packet} counter" "system.processes.count {process} updown" \
  "hw.gpu.utilization 1 gauge" "hw.gpu.memory.usage By updown" "hw.temperature Cel gauge" \
  "hw.power W gauge" "diorama.state {state} gauge"; do
  set -- $m
  got=$(v "j.metrics['$1'] ? j.metrics['$1'].unit + ' ' + j.metrics['$1'].kind : 'missing'")
  check "$1: $2 $3 (got $got)" [ "$got" = "$2 $3" ]
done
range() { v "const m=j.metrics['$1'];m.min>=$2&&m.max<=$3&&m.n>0"; }
check "cpu utilization in [0,1]" [ "$(range system.cpu.utilization 0 1)" = true ]
check "memory utilization in [0,1]" [ "$(range system.memory.utilization 0 1)" = true ]
check "gpu utilization in [0,1]" [ "$(range hw.gpu.utilization 0 1)" = true ]
check "gpu temperature 30..90 C" [ "$(range hw.temperature 30 90)" = true ]
check "gpu power 0..700 W" [ "$(range hw.power 0 700)" = true ]
check "load average 0..64" [ "$(range system.cpu.load_average.1m 0 64)" = true ]
check "no counter goes back ($(v j.backwards))" [ "$(v j.backwards)" = 0 ]

# diorama.state follows the timeline: db01 critical in minute 2 only
s() { v "j.states['db01/$1'][$2]"; }
check "db01 healthy at 1m" [ "$(s healthy 1)/$(s critical 1)" = "1/0" ]
check "db01 critical at 2m" [ "$(s healthy 2)/$(s critical 2)" = "0/1" ]
check "db01 healthy again at 4m" [ "$(s healthy 4)/$(s critical 4)" = "1/0" ]

# the series emitted stay within the count validate prints
n=$("$DIORAMA" scenarios validate "$Y" | sed -n 's/.*up to \([0-9]*\) metric series.*/\1/p')
check "points per tick ($(v j.maxPoints)) <= validate's count ($n)" [ "$(v j.maxPoints)" -le "$n" ]

# /metrics: the same names (Prometheus style) and the state gauge
for i in 1 2 3; do
  port=$(free_port)
  "$DIORAMA" run "$Y" --prom-listen "127.0.0.1:$port" --metric-interval 1s -q --duration 30s \
    >"$TMP/run.out" 2>"$TMP/run.err" &
  dio=$!
  wait_port "$port" 30 && kill -0 "$dio" 2>/dev/null && break
done
sleep 2
curl -sf "http://127.0.0.1:$port/metrics" -o "$TMP/metrics.txt"
kill "$dio" 2>/dev/null; wait "$dio" 2>/dev/null
for m in 'diorama_state{' 'system_cpu_time_seconds_total{' 'system_memory_usage_bytes{' \
  'system_network_io_bytes_total{' 'hw_gpu_utilization_ratio{' 'system_cpu_load_average_1m{'; do
  check "/metrics has $m" grep -qF "$m" "$TMP/metrics.txt"
done
check "/metrics: db01 is healthy" grep -qE '^diorama_state\{.*target="db01",state="healthy"\} 1' "$TMP/metrics.txt"
finish
