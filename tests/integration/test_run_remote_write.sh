#!/usr/bin/env bash
# --remote-write into real receivers started here: Prometheus 2.42
# (--web.enable-remote-write-receiver) and VictoriaMetrics. The same reproducible run (--speed
# max, fixed --start) goes to each; what each stores (series, samples, read back with
# range selectors / /api/v1/export) equals what diorama says it delivered, and a
# histogram_quantile over the delivered buckets is the same in both and equal to the value
# computed here from the exported buckets. Then --remote-write-version 2 into Prometheus 2.42,
# a 1.0-only receiver: diorama falls back to 1.0 and Prometheus holds the same data again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rw_peers.sh"
rw_need

# A recent start (Prometheus refuses samples far older than its head) on a whole minute.
START=$(($(date +%s) / 60 * 60 - 3600))
RUN=("$DIORAMA" run minimal --speed max --start "$START" --duration 10m --seed 5 -q
  --shutdown-timeout 120s)
summary_field() { # FILE WORD: the number before WORD on the "remote write:" line
  grep '^remote write:' "$1" | grep -o "[0-9]* $2" | head -1 | cut -d' ' -f1
}

prom_start "$TMP/prom" || fail "prometheus starts"
vm_start "$TMP/vm" || fail "victoria-metrics starts"

"${RUN[@]}" --remote-write "$PROM_URL/api/v1/write" >"$TMP/p.out" 2>"$TMP/p.err"
rc=$?
check "prometheus: exit 0 ($rc: $(tail -2 "$TMP/p.err"))" [ "$rc" = 0 ]
"${RUN[@]}" --remote-write "$VM_URL/api/v1/write" >"$TMP/v.out" 2>"$TMP/v.err"
rc=$?
check "victoria-metrics: exit 0 ($rc: $(tail -2 "$TMP/v.err"))" [ "$rc" = 0 ]
SAMPLES=$(summary_field "$TMP/v.out" samples)
SERIES=$(summary_field "$TMP/v.out" series)
check "the summary says what was delivered ($(grep '^remote write' "$TMP/v.out"))" \
  [ -n "$SAMPLES" ] && [ "${SAMPLES:-0}" -gt 0 ] && [ "${SERIES:-0}" -gt 0 ]
check "both runs delivered the same (reproducible)" \
  [ "$(grep '^remote write' "$TMP/p.out")" = "$(grep '^remote write' "$TMP/v.out")" ]

read -r vser vsam < <(vm_counts)
check "victoria-metrics: $vser series = $SERIES delivered" [ "$vser" = "$SERIES" ]
check "victoria-metrics: $vsam samples = $SAMPLES delivered" [ "$vsam" = "$SAMPLES" ]

# The last sample's time: the end of the run, on the metric interval.
END=$(curl -sS "$VM_URL/api/v1/export" --data-urlencode 'match[]={__name__="http_server_requests_total"}' |
  node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{let m=0;for(const l of d.split("\n"))if(l)for(const t of JSON.parse(l).timestamps)m=Math.max(m,t);console.log(m/1000)})')
check "a last sample time ($END)" [ -n "$END" ] && [ "${END%.*}" -gt "$START" ]
read -r pser psam < <(prom_counts "$PROM_URL" "$END")
check "prometheus: $pser series = $SERIES delivered" [ "$pser" = "$SERIES" ]
check "prometheus: $psam samples = $SAMPLES delivered" [ "$psam" = "$SAMPLES" ]

# histogram_quantile over the delivered buckets: Prometheus, VictoriaMetrics and the same
# interpolation done here on the exported bucket values at END.
Q='histogram_quantile(0.9, sum by (le) (http_server_request_duration_seconds_bucket))'
pq=$(promq "$PROM_URL" "$Q" "$END")
vq=$(promq "$VM_URL" "$Q" "$END")
cq=$(curl -sS "$VM_URL/api/v1/export" --data-urlencode 'match[]={__name__="http_server_request_duration_seconds_bucket"}' |
  node -e '
let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{
  const by=new Map(); // le -> summed cumulative count at the last timestamp
  for(const l of d.split("\n")){ if(!l)continue; const s=JSON.parse(l);
    const i=s.timestamps.indexOf(Math.max(...s.timestamps)); const le=s.metric.le;
    by.set(le,(by.get(le)||0)+s.values[i]); }
  const b=[...by].map(([le,c])=>[le==="+Inf"?Infinity:Number(le),c]).sort((x,y)=>x[0]-y[0]);
  const total=b[b.length-1][1], rank=0.9*total; let i=0; while(b[i][1]<rank)i++;
  if(b[i][0]===Infinity){console.log(b[b.length-2][0]);return;}
  const lo=i?b[i-1][0]:0, clo=i?b[i-1][1]:0;
  console.log(lo+(b[i][0]-lo)*(rank-clo)/(b[i][1]-clo));
});')
close() { node -e 'const [a,b]=process.argv.slice(1).map(Number);process.exit(isFinite(a)&&Math.abs(a-b)<=1e-9*Math.max(1,Math.abs(b))?0:1)' "$1" "$2"; }
check "p90 from Prometheus ($pq) = computed from the delivered buckets ($cq)" close "$pq" "$cq"
check "p90 from VictoriaMetrics ($vq) = computed ($cq)" close "$vq" "$cq"

# 2.0 into Prometheus 2.42, which only speaks 1.0: it answers 204 without the Written
# headers (it read the 2.0 body as an empty 1.0 request); diorama goes back to 1.0 and
# re-sends, so a second Prometheus holds exactly the same.
prom2=$PROM_URL
prom_start "$TMP/prom2" || fail "second prometheus starts"
"${RUN[@]}" --remote-write "$PROM_URL/api/v1/write" --remote-write-version 2 \
  >"$TMP/p2.out" 2>"$TMP/p2.err"
rc=$?
check "2.0 into prometheus 2.42: exit 0 ($rc: $(tail -2 "$TMP/p2.err"))" [ "$rc" = 0 ]
check "the summary says it fell back ($(grep '^remote write' "$TMP/p2.out"))" \
  grep -q 'version 1 (fell back from 2' "$TMP/p2.out"
check "2.0 -> 1.0: same samples delivered" [ "$(summary_field "$TMP/p2.out" samples)" = "$SAMPLES" ]
read -r pser2 psam2 < <(prom_counts "$PROM_URL" "$END")
check "prometheus after the fallback: $pser2 series = $SERIES" [ "$pser2" = "$SERIES" ]
check "prometheus after the fallback: $psam2 samples = $SAMPLES" [ "$psam2" = "$SAMPLES" ]
check "first prometheus still answers" curl -sf "$prom2/-/ready" -o /dev/null
finish
