#!/usr/bin/env bash
# States and the timeline, end to end: a scheduled state change shows in every signal it
# should (the host's CPU and memory, the latency and errors of the requests it serves, the
# labels), with the expected size and timing, and nowhere else; runs are deterministic; the
# built-in fleet scenario's timeline is labelled and moves ppdb002's metrics.
. "$(dirname "$0")/lib.sh"
START=2026-01-01T00:00:00Z
T0=1767225600
run() { "$DIORAMA" run "$SRC/tests/data/states.yaml" --speed max --duration 6m --seed 1 \
  --start $START --metric-interval 30s -q --otlp-file "$1" --labels "$2" >/dev/null; }
run "$TMP/a.jsonl" "$TMP/a.labels"
check "run exits 0" [ $? = 0 ]
run "$TMP/b.jsonl" "$TMP/b.labels"
check "same seed: identical telemetry" cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl"
check "same seed: identical labels" cmp -s "$TMP/a.labels" "$TMP/b.labels"

node "$SRC/tests/node/states_check.js" "$TMP/a.jsonl" $T0 >"$TMP/s.json"
v() { json "$TMP/s.json" "$1"; }
awk_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
awk_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
# minute 1 healthy, 3 degrading (the 1-minute drift ended at 3m), 4 critical, 5 healthy again
lat1=$(v 'j.spans[1].ms'); lat3=$(v 'j.spans[3].ms'); lat4=$(v 'j.spans[4].ms'); lat5=$(v 'j.spans[5].ms')
# web 10 ms + db 5 ms (+ network); degrading db x1.8 -> +4 ms, critical x5 -> +20 ms
check "healthy latency about 15.5 ms ($lat1)" awk_le "$lat1" 16
check "degrading: +4 ms ($lat1 -> $lat3)" awk_ge "$lat3" "$(awk -v a="$lat1" 'BEGIN{print a+3.5}')"
check "degrading: not more ($lat3)" awk_le "$lat3" "$(awk -v a="$lat1" 'BEGIN{print a+4.5}')"
check "critical: +20 ms ($lat4)" awk_ge "$lat4" "$(awk -v a="$lat1" 'BEGIN{print a+19}')"
check "restored ($lat5)" awk_le "$lat5" 16
e1=$(v 'j.spans[1].errors'); e4=$(v 'j.spans[4].errors'); n4=$(v 'j.spans[4].n'); e5=$(v 'j.spans[5].errors')
check "no errors while healthy ($e1, $e5)" [ "$e1" = 0 -a "$e5" = 0 ]
check "critical fails about 20% ($e4 of $n4)" awk_ge "$e4" $((n4 * 15 / 100))
check "critical: not more ($e4 of $n4)" awk_le "$e4" $((n4 * 25 / 100))
c1=$(v 'j.hosts.ppdb002[1].cpu'); c3=$(v 'j.hosts.ppdb002[3].cpu'); c4=$(v 'j.hosts.ppdb002[4].cpu')
c5=$(v 'j.hosts.ppdb002[5].cpu'); w1=$(v 'j.hosts.ppweb001[1].cpu'); w4=$(v 'j.hosts.ppweb001[4].cpu')
check "db cpu healthy ~20% ($c1)" awk_le "$c1" 0.25
check "db cpu degrading ~78% ($c3)" awk_ge "$c3" 0.7
check "db cpu critical ~97% ($c4)" awk_ge "$c4" 0.9
check "db cpu restored ($c5)" awk_le "$c5" 0.25
check "web host untouched ($w1 vs $w4)" awk_le "$(awk -v a="$w1" -v b="$w4" 'BEGIN{d=a-b;print d<0?-d:d}')" 0.05
m1=$(v 'j.hosts.ppdb002[1].mem'); m4=$(v 'j.hosts.ppdb002[4].mem'); m5=$(v 'j.hosts.ppdb002[5].mem')
check "db memory grows ($m1 -> $m4 MiB)" [ "$m4" -gt $((m1 + 1000)) ]
# (memory used also follows the load and a bounded walk of +-1% of 16 GiB: world/host.c)
check "db memory given back ($m5 MiB)" [ "$m5" -lt $((m1 + 400)) ]

# labels: begin and end of degrading and of critical, schedule, exact times
L="$TMP/a.labels"
check "4 label lines" [ "$(wc -l <"$L")" = 4 ]
line() { node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse)[process.argv[2]];console.log([l.kind,l.target,l.state,l.from,l.source,l.phase,l.start,l.end].join(" "))' "$L" "$1"; }
check "label 1" [ "$(line 0)" = "state ppdb002 degrading healthy schedule begin 2026-01-01T00:02:00.000000000Z " ]
check "label 2" [ "$(line 1)" = "state ppdb002 degrading healthy schedule end 2026-01-01T00:02:00.000000000Z 2026-01-01T00:04:00.000000000Z" ]
check "label 3" [ "$(line 2)" = "state ppdb002 critical degrading schedule begin 2026-01-01T00:04:00.000000000Z " ]
check "label 4" [ "$(line 3)" = "state ppdb002 critical degrading schedule end 2026-01-01T00:04:00.000000000Z 2026-01-01T00:05:00.000000000Z" ]

# the built-in fleet: metrics only, 3h30m simulated
"$DIORAMA" run fleet --speed max --duration 3h30m --start $START --signals metrics -q --metric-interval 1m \
  --otlp-file "$TMP/f.jsonl" --labels "$TMP/f.labels" >/dev/null
check "fleet runs" [ $? = 0 ]
check "fleet: 4 labels" [ "$(wc -l <"$TMP/f.labels")" = 4 ]
node "$SRC/tests/node/states_check.js" "$TMP/f.jsonl" $T0 >"$TMP/f.json"
f60=$(json "$TMP/f.json" 'j.hosts.ppdb002[60].cpu'); f170=$(json "$TMP/f.json" 'j.hosts.ppdb002[170].cpu')
f205=$(json "$TMP/f.json" 'j.hosts.ppdb002[205].cpu'); o170=$(json "$TMP/f.json" 'j.hosts.ppdb001[170].cpu')
check "fleet: ppdb002 at 1h healthy ($f60)" awk_le "$f60" 0.5
check "fleet: ppdb002 at 2h50m degraded ($f170)" awk_ge "$f170" 0.7
check "fleet: ppdb002 at 3h25m restored ($f205)" awk_le "$f205" 0.5
check "fleet: ppdb001 at 2h50m healthy ($o170)" awk_le "$o170" 0.5
finish
