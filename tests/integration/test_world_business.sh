#!/usr/bin/env bash
# rides' business metrics and its one-connection MySQL pool, end to end through the engine's
# metric path (OpenMetrics file and /metrics use the same series as OTLP and remote write):
# every city has each metric, the rides requested add up to the dispatch requests and to the
# dispatch-time observations, drivers stay within their walk's bounds, the customer lookup
# (behind the pool) is much slower in the busy evening than in the quiet morning, and the run
# is reproducible.
. "$(dirname "$0")/lib.sh"
run_day() {
  "$DIORAMA" run rides --speed max --duration 24h --start 2026-01-01T00:00:00Z \
    --metric-interval 1h --signals metrics -q --openmetrics-file "$1" >/dev/null
}
run_day "$TMP/a.om"
check "a day of rides runs" [ $? = 0 ]
last() { # last SERIES-REGEX: the value of the last sample of each matching series, summed
  grep -E "^$1" "$TMP/a.om" | awk '{k=$1; v[k]=$2} END {s=0; for (k in v) s+=v[k]; printf "%d\n", s}'
}
for m in rides_requested_total rides_dispatch_duration_seconds_count rides_eta_seconds_count \
  drivers_available; do
  for c in SF NYC London Singapore; do
    check "$m has city $c" grep -q "^$m{.*city=\"$c\"" "$TMP/a.om"
  done
done
req=$(last 'rides_requested_total\{')
disp=$(last 'rides_dispatch_duration_seconds_count\{')
http=$(last 'http_server_requests_total\{job="rides/frontend"')
check "every ride requested has a dispatch time ($req, $disp)" [ "$req" = "$disp" ]
# requests are counted when they arrive, HTTP requests when they end: the last tick differs by
# those in flight
check "rides requested ($req) match GET /dispatch requests ($http)" \
  node -e "process.exit($req>0&&Math.abs($req-$http)<=200?0:1)"
drv=$(grep -E '^drivers_available\{' "$TMP/a.om" | awk '{print $2}' | sort -n | sed -n '1p;$p' | paste -sd,)
check "drivers.available stays positive and bounded ($drv)" \
  node -e "const [lo,hi]=[$drv];process.exit(lo>0&&hi<1200*1.3*1.15*1.5?0:1)"
# the customer lookup's mean latency (status 200) per hour, from the cumulative histogram
mean_at() { # mean_at HOUR: ms between the samples at HOUR-1 and HOUR
  grep -E '^http_server_request_duration_seconds_(count|sum)\{job="rides/customer".*code="200"' \
    "$TMP/a.om" | awk -v h="$1" '{print $(NF-1)}' | paste - - |
    awk -v h="$1" 'NR==h{c0=$1;s0=$2} NR==h+1{printf "%.1f\n", ($2-s0)/($1-c0)*1000}'
}
quiet=$(mean_at 6)
busy=$(mean_at 17)
check "the pool makes the busy hour slow ($busy ms at 17-18h vs $quiet ms at 06-07h)" \
  node -e "process.exit($quiet>25&&$quiet<60&&$busy>3*$quiet?0:1)"
run_day "$TMP/b.om"
check "the same seed gives the same business metrics" cmp -s "$TMP/a.om" "$TMP/b.om"
finish
