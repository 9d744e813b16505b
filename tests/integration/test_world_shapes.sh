#!/usr/bin/env bash
# Load shapes, checked numerically on a simulated day and week (--speed max, metrics only):
# a diurnal rate integrates to the expected daily count within 1% and peaks when it should, a
# maintenance window empties its half hour, the weekend factor holds, a ramp rises, bursts add
# traffic, a host's CPU follows its shape, and the same seed gives the same counts.
. "$(dirname "$0")/lib.sh"
cat >"$TMP/day.yaml" <<'YML'
name: day
hosts:
  - {name: h1, cpu: 40%, shape: {diurnal: {peak: "14:00", amplitude: 50%}}}
services:
  - name: web
    host: h1
    operations:
      - name: GET /
        latency: 5ms
        rate: 10/s
        shape: {diurnal: {peak: "14:00", amplitude: 60%}, maintenance: [{at: "02:00", duration: 30m}]}
YML
counts() { node "$SRC/tests/node/interval_counts.js" "$@"; }
"$DIORAMA" run "$TMP/day.yaml" --speed max --duration 24h --start 2026-01-05T00:00:00Z \
  --metric-interval 30m --signals metrics -q --otlp-file "$TMP/day.jsonl" >/dev/null
check "a day runs" [ $? = 0 ]
counts "$TMP/day.jsonl" web h1 >"$TMP/day.json"
# the exact integral of 10/s x (1 + 0.6 cos(2 pi (t - 14h) / 24h)) over the day, less 02:00-02:30
want=$(node -e 'let s=0;const dt=1;for(let t=0;t<86400;t+=dt){if(t>=7200&&t<9000)continue;s+=10*(1+0.6*Math.cos(2*Math.PI*(t-50400)/86400))*dt}console.log(Math.round(s))')
got=$(json "$TMP/day.json" 'j.reduce((a,o)=>a+o.requests,0)')
check "daily count $got within 1% of $want" node -e "process.exit(Math.abs($got-$want)/$want<0.01?0:1)"
check "maintenance window 02:00-02:30 is empty" [ "$(json "$TMP/day.json" 'j[4].requests')" = 0 ]
peak=$(json "$TMP/day.json" 'j[28].requests') # 14:00-14:30: 16/s
low=$(json "$TMP/day.json" 'j[2].requests')   # 01:00-01:30: about 4.2/s
check "peak half hour about 1.6x ($peak)" node -e "process.exit($peak>1.5*18000&&$peak<1.7*18000?0:1)"
check "night half hour about 0.42x ($low)" node -e "process.exit($low>0.35*18000&&$low<0.5*18000?0:1)"
cpk=$(json "$TMP/day.json" 'j[28].cpu'); clo=$(json "$TMP/day.json" 'j[2].cpu')
check "host CPU follows its shape ($clo at night, $cpk at the peak)" node -e "process.exit($cpk-$clo>0.25?0:1)"
"$DIORAMA" run "$TMP/day.yaml" --speed max --duration 24h --start 2026-01-05T00:00:00Z \
  --metric-interval 30m --signals metrics -q --otlp-file "$TMP/day2.jsonl" >/dev/null
check "same seed, same day" cmp -s "$TMP/day.jsonl" "$TMP/day2.jsonl"

cat >"$TMP/week.yaml" <<'YML'
name: week
services:
  - name: web
    operations:
      - name: GET /
        latency: 5ms
        rate: 2/s
        shape: {weekly: {weekend: 40%}}
      - name: GET /ramp
        latency: 5ms
        rate: 2/s
        arrival: constant
        shape: {ramp: {from: 0%, to: 100%, over: 1d}}
      - name: GET /bursts
        latency: 5ms
        rate: 2/s
        shape: {bursts: {probability: 2%, factor: 10, duration: 5m}, noise: 10%}
YML
# 2026-01-05 is a Monday: days 5 and 6 of the run are the weekend
"$DIORAMA" run "$TMP/week.yaml" --speed max --duration 7d --start 2026-01-05T00:00:00Z \
  --metric-interval 1d --signals metrics -q --otlp-file "$TMP/week.jsonl" >/dev/null
check "a week runs" [ $? = 0 ]
node -e '
const fs=require("fs");const per={};
for(const l of fs.readFileSync(process.argv[1],"utf8").split("\n")){ if(!l) continue;
 for(const rm of JSON.parse(l).resourceMetrics||[]) for(const sm of rm.scopeMetrics) for(const m of sm.metrics){
  if(m.name!=="http.server.requests") continue;
  for(const p of m.sum.dataPoints){ const r=p.attributes.find(a=>a.key==="http.route").value.stringValue;
   (per[r]=per[r]||{})[p.timeUnixNano]=(per[r][p.timeUnixNano]||0)+Number(p.asInt);}}}
const out={};for(const r in per){const ts=Object.keys(per[r]).sort();let prev=0;out[r]=ts.map(t=>{const d=per[r][t]-prev;prev=per[r][t];return d;});}
console.log(JSON.stringify(out));' "$TMP/week.jsonl" >"$TMP/week.json"
wd=$(json "$TMP/week.json" 'j["/"].slice(0,5).reduce((a,b)=>a+b,0)/5')
we=$(json "$TMP/week.json" 'j["/"].slice(5,7).reduce((a,b)=>a+b,0)/2')
check "weekend about 40% of a weekday ($we vs $wd)" node -e "process.exit(Math.abs($we/$wd-0.4)<0.02?0:1)"
r1=$(json "$TMP/week.json" 'j["/ramp"][0]'); r2=$(json "$TMP/week.json" 'j["/ramp"][1]')
check "ramp: the first day about half of the second ($r1 vs $r2)" node -e "process.exit(Math.abs($r1/$r2-0.5)<0.02?0:1)"
b=$(json "$TMP/week.json" 'j["/bursts"].reduce((a,c)=>a+c,0)')
# 2% of minutes start a 5-minute burst at 10x: about 9.6% of the time bursts, +86% traffic
check "bursts add traffic ($b vs 1209600 without)" node -e "process.exit($b>1209600*1.5&&$b<1209600*2.3?0:1)"
finish
