#!/usr/bin/env bash
# Backfill (the README recipe): a simulated day of history, --speed max from a --start in the
# past, into VictoriaMetrics over remote write. What VictoriaMetrics holds equals what diorama
# says it delivered (series and samples), and the first and last hour read back hold every
# series once per metric interval: no gap, no duplicate, the right first and last timestamps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rw_peers.sh"
rw_need
vm_start "$TMP/vm" || fail "victoria-metrics starts"

START=2026-01-01T00:00:00Z
S0=1767225600
"$DIORAMA" run minimal --speed max --start "$START" --duration 24h --metric-interval 1m \
  --remote-write "$VM_URL/api/v1/write" --summary-json "$TMP/sum.json" --shutdown-timeout 120s \
  >"$TMP/out" 2>"$TMP/err"
rc=$?
check "backfill: exit 0 ($rc: $(tail -2 "$TMP/err"))" [ "$rc" = 0 ]
line=$(grep '^remote write:' "$TMP/out")
S=$(grep -o '[0-9]* samples' <<<"$line" | head -1 | cut -d' ' -f1)
SER=$(grep -o '[0-9]* series' <<<"$line" | head -1 | cut -d' ' -f1)
check "the summary says what was delivered ($line)" [ "${S:-0}" -gt 0 ] && [ "${SER:-0}" -gt 0 ]

read -r vser vsam < <(vm_counts)
check "victoria-metrics holds $vser series = $SER delivered" [ "$vser" = "$SER" ]
check "victoria-metrics holds $vsam samples = $S delivered" [ "$vsam" = "$S" ]

# One hour: "series samples distinct_timestamps first last" (unix seconds).
hour() {
  curl -sS "$VM_URL/api/v1/export" --data-urlencode 'match[]={__name__!=""}' \
    --data-urlencode "start=$1" --data-urlencode "end=$2" |
    node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{let n=0,s=0;const ts=new Set();
      for(const l of d.split("\n")){if(!l)continue;const j=JSON.parse(l);n++;s+=j.values.length;for(const t of j.timestamps)ts.add(t)}
      const a=[...ts].sort((x,y)=>x-y);console.log(n,s,a.length,a[0]/1000,a[a.length-1]/1000)})'
}
read -r n s t first _ < <(hour "$S0" $((S0 + 3599)))
check "first hour: starts at the first tick, $((S0 + 60)) ($first)" [ "$first" = $((S0 + 60)) ]
check "first hour: 59 ticks ($t)" [ "$t" = 59 ]
check "first hour: every one of $n series once per tick ($s samples)" [ "$s" = $((n * t)) ] && [ "$n" -gt 0 ]
read -r n s t _ last < <(hour $((S0 + 82801)) $((S0 + 86400)))
check "last hour: ends at the last tick, $((S0 + 86400)) ($last)" [ "$last" = $((S0 + 86400)) ]
check "last hour: 60 ticks ($t)" [ "$t" = 60 ]
check "last hour: every one of $n series once per tick ($s samples)" [ "$s" = $((n * t)) ] && [ "$n" = "$SER" ]
check "all points delivered" json "$TMP/sum.json" \
  'j.signals.metric_points.generated===j.signals.metric_points.delivered||process.exit(1)'
finish
