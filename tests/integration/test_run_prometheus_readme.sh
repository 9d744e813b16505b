#!/usr/bin/env bash
# The README's Prometheus scrape snippet, as written (only the target's port changed), against
# a real Prometheus (Debian's 2.42): the simulated services' series are found by their own
# job and instance labels (not exported_job/exported_instance), host metrics by host, and
# diorama's self-metrics under the scrape job. Every scrape snippet in the docs sets
# honor_labels: true.
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || skip "prometheus not installed"

# The first ```yaml block of README.md that has scrape_configs.
awk '/^```yaml/{b=1; buf=""; next} /^```/{if (b && buf ~ /scrape_configs/) {printf "%s", buf; exit} b=0; next} b{buf=buf $0 "\n"}' \
  "$SRC/README.md" >"$TMP/snippet.yml"
check "README has a scrape_configs snippet" grep -q 'scrape_configs' "$TMP/snippet.yml"
check "README's snippet targets 127.0.0.1:9464" grep -q '127.0.0.1:9464' "$TMP/snippet.yml"
for f in "$SRC"/README.md "$SRC"/docs/*.md; do
  n=$(grep -c 'job_name:' "$f")
  h=$(grep -c 'honor_labels: true' "$f")
  check "$(basename "$f"): every scrape job sets honor_labels: true ($h of $n)" [ "$h" -ge "$n" ]
done

"$DIORAMA" run inference --prom-listen 127.0.0.1:0 --metric-interval 1s --duration 120s \
  >"$TMP/run.out" 2>"$TMP/run.err" &
dio=$!
PIDS+=($dio)
for _ in $(seq 1 100); do
  port=$(grep -oE '^  /metrics +http://127\.0\.0\.1:[0-9]+' "$TMP/run.err" | grep -oE '[0-9]+$')
  [ -n "$port" ] && break
  sleep 0.1
done
check "diorama's banner gives the /metrics port" [ -n "$port" ]

pport=$(free_port)
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  sed "s/127\.0\.0\.1:9464/127.0.0.1:$port/" "$TMP/snippet.yml"
} >"$TMP/prom.yml"
prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$TMP/prom.log" 2>&1 &
PIDS+=($!)
check "prometheus listens" wait_port "$pport" 20
q() { curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
has() { grep -q '"result":\[{' <<<"$1"; } # at least one series
r=""
for _ in $(seq 1 60); do
  r=$(q 'http_server_requests_total{job="inference/gateway",instance="gateway-0"}') || r=""
  has "$r" && break
  sleep 0.25
done
check "a query by job=\"inference/gateway\" finds the gateway's series ($r)" has "$r"
r=$(q 'system_cpu_utilization_ratio{job="host-metrics",instance="gpu-node-1"}')
check "host metrics by job=\"host-metrics\" and instance=<host> ($r)" has "$r"
r=$(q 'count({exported_job!=""}) or count({exported_instance!=""})')
check "no exported_job / exported_instance labels ($r)" bash -c "! grep -q '\"result\":\[{' <<<'$r'"
r=$(q 'diorama_build_info{job="diorama"}')
check "self-metrics keep the scrape job ($r)" has "$r"
kill -TERM "$dio"
wait "$dio"
finish
