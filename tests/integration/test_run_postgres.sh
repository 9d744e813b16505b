#!/usr/bin/env bash
# --postgres against a real PostgreSQL 15 (Debian), started here on 127.0.0.1 on a free port:
# exact row counts, the p99-per-operation query of docs/postgres.md, jsonb attributes, labels,
# a server stopped and restarted in the middle of a real-time run, bad URL, unreachable
# server, wrong password, PGPASSWORD, and the password never printed.
. "$(dirname "$0")/lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] && command -v psql >/dev/null ||
  skip "PostgreSQL 15 not installed (scripts/install-deps.sh installs it)"

# The server refuses to run as root: run it as the postgres user when we are root.
AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || skip "no postgres user to run the server as"
  AS=(runuser -u postgres --)
  chmod 755 "$TMP"
fi
SOCK=$TMP/pg # the server's own directory: data, socket, log
PGD=$SOCK/data
mkdir -p "$PGD"
[ ${#AS[@]} = 0 ] || chown -R postgres "$SOCK"
PORT=$(free_port)
PW='Pg5ecret-7c1f'
pg_pid() { head -1 "$PGD/postmaster.pid" 2>/dev/null; }
pg_start() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGD" -l "$SOCK/pg.log" -w -t 60 \
    -o "-k $SOCK -h 127.0.0.1 -p $PORT -c fsync=off -c synchronous_commit=off" start >/dev/null
}
pg_stop() { "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGD" -m fast -w -t 60 stop >/dev/null; }
# Stop the server by its PID whatever happens (lib.sh's cleanup then removes $TMP).
pg_cleanup() {
  local p
  p=$(pg_pid)
  if [ -n "$p" ]; then
    kill -INT "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
  cleanup
}
trap pg_cleanup EXIT

"${AS[@]}" "$PGBIN/initdb" -D "$PGD" -U postgres -E UTF8 --locale=C --auth-local=trust \
  --auth-host=scram-sha-256 >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; exit 1; }
pg_start || { cat "$SOCK/pg.log"; exit 1; }
sql() { psql -X -q -At -h "$SOCK" -p "$PORT" -U postgres -d dio -v ON_ERROR_STOP=1 -c "$1"; }
psql -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE dio LOGIN PASSWORD '$PW'" -c "CREATE DATABASE dio OWNER dio" >/dev/null
URL="postgresql://dio:$PW@127.0.0.1:$PORT/dio"

# ---- 1. a fast run: every delivered record is one row ----------------------------------------
"$DIORAMA" run inference --speed max --duration 2m --seed 7 --postgres "$URL" -q -v \
  --shutdown-timeout 60s \
  --summary-json "$TMP/s1.json" >"$TMP/run1.out" 2>"$TMP/run1.err"
rc=$?
check "run into PostgreSQL exits 0 (got $rc: $(tail -3 "$TMP/run1.err"))" [ "$rc" = 0 ]
RUN=$(json "$TMP/s1.json" 'j.run_id')
declare -A TABLE=([spans]=diorama_spans [metric_points]=diorama_metric_points [logs]=diorama_logs)
for s in spans metric_points logs; do
  gen=$(json "$TMP/s1.json" "j.signals.$s.generated")
  del=$(json "$TMP/s1.json" "j.signals.$s.delivered")
  rows=$(sql "SELECT count(*) FROM ${TABLE[$s]} WHERE run_id = '$RUN'")
  check "$s: generated $gen > 0 and all delivered ($del): $(json "$TMP/s1.json" "j.signals.$s")" \
    [ "$gen" -gt 0 -a "$gen" = "$del" ]
  check "$s: rows in ${TABLE[$s]} ($rows) == delivered ($del)" [ "$rows" = "$del" ]
  b=$(sql "SELECT coalesce(sum(rows), 0) FROM diorama_batches WHERE run_id = '$RUN' AND signal = '$s'")
  check "$s: diorama_batches accounts for the rows ($b)" [ "$b" = "$del" ]
done
labels=$(json "$TMP/s1.json" 'j.labels')
lrows=$(sql "SELECT count(*) FROM diorama_labels WHERE run_id = '$RUN'")
check "labels: $lrows rows == $labels labels injected (> 0)" [ "$labels" -gt 0 -a "$lrows" = "$labels" ]

# State periods (tests/data/states.yaml: degrading 2m-4m, critical 4m-5m) are one row each,
# once complete, never a half with an end in 1970.
"$DIORAMA" run "$SRC/tests/data/states.yaml" --speed max --duration 6m --seed 1 --postgres "$URL"   -q --summary-json "$TMP/st.json" >/dev/null 2>"$TMP/st.err"
check "states run exits 0 ($(tail -2 "$TMP/st.err"))" [ $? = 0 ]
SRUN=$(json "$TMP/st.json" 'j.run_id')
check "states: 2 periods as 2 rows" [ "$(sql "SELECT count(*) FROM diorama_labels WHERE run_id = '$SRUN' AND kind = 'state'")" = 2 ]
check "states: every period ends after it starts" \
  [ "$(sql "SELECT count(*) FROM diorama_labels WHERE run_id = '$SRUN' AND end_time <= start_time")" = 0 ]
check "states: critical lasted a minute" \
  [ "$(sql "SELECT extract(epoch FROM end_time - start_time)::int FROM diorama_labels WHERE run_id = '$SRUN' AND fault = 'critical'")" = 60 ]

# The p99 per operation query from docs/postgres.md.
sql "SELECT service_name, name, count(*),
            round((percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ns) / 1e6)::numeric, 3)
       FROM diorama_spans WHERE kind = 'server' AND run_id = '$RUN'
      GROUP BY service_name, name ORDER BY 4 DESC" >"$TMP/p99.txt"
echo "p99 per operation:"; sed 's/^/  /' "$TMP/p99.txt"
check "p99 query answers one row per server operation" [ "$(wc -l <"$TMP/p99.txt")" -ge 2 ]
p99_of() { awk -F'|' -v s="$1" -v n="$2" '$1 == s && $2 == n {print $4}' "$TMP/p99.txt"; }
gpt=$(p99_of model-server "chat gpt-4")
clip=$(p99_of model-server "embeddings clip-vit")
gw=$(p99_of gateway "POST /v1/chat/completions")
# gpt-4: 80 ms +-20%, x10 on every 100th request; clip-vit 15 ms +-20%.
check "p99 of model-server 'chat gpt-4' is plausible (${gpt:-none} ms)" \
  awk -v v="${gpt:-0}" 'BEGIN{exit !(v >= 64 && v <= 1000)}'
check "p99 of model-server 'embeddings clip-vit' is plausible (${clip:-none} ms)" \
  awk -v v="${clip:-0}" 'BEGIN{exit !(v >= 12 && v <= 200)}'
check "the gateway's chat p99 (${gw:-none} ms) covers gpt-4's (${gpt:-none} ms)" \
  awk -v a="${gw:-0}" -v b="${gpt:-1}" 'BEGIN{exit !(a >= b)}'
# Cross-check with diorama's own histogram metric (seconds): the slowest request it recorded
# is at least the p99 of the spans.
mx=$(sql "SELECT max(max) FROM diorama_metric_points WHERE run_id = '$RUN'
            AND metric = 'http.server.request.duration' AND service_name = 'gateway'")
check "max request duration metric (${mx:-none} s) agrees with the spans" \
  awk -v m="${mx:-0}" -v p="${gw:-0}" 'BEGIN{exit !(m > 0 && m * 1000 >= p)}'

# Attributes are jsonb.
n=$(sql "SELECT count(*) FROM diorama_spans WHERE run_id = '$RUN'
           AND attributes->>'gen_ai.request.model' = 'gpt-4'")
check "spans queryable by a jsonb attribute ($n)" [ "${n:-0}" -gt 0 ]
n=$(sql "SELECT count(*) FROM diorama_spans WHERE run_id = '$RUN'
           AND (attributes->>'gen_ai.usage.input_tokens')::int > 0")
check "numeric jsonb attributes cast ($n)" [ "${n:-0}" -gt 0 ]
n=$(sql "SELECT count(*) FROM diorama_spans WHERE run_id = '$RUN'
           AND resource->>'service.name' IS DISTINCT FROM service_name")
check "service_name column equals resource->>'service.name' ($n mismatches)" [ "$n" = 0 ]
n=$(sql "SELECT count(*) FROM diorama_metric_points WHERE run_id = '$RUN' AND type = 'histogram'
           AND cardinality(bucket_counts) <> cardinality(bounds) + 1")
check "histogram rows have len(bounds)+1 bucket counts ($n bad)" [ "$n" = 0 ]
n=$(sql "SELECT count(*) FROM diorama_metric_points WHERE run_id = '$RUN' AND type = 'histogram'
           AND count <> (SELECT sum(c) FROM unnest(bucket_counts) c)")
check "histogram counts equal the sum of their buckets ($n bad)" [ "$n" = 0 ]
n=$(sql "SELECT count(*) FROM diorama_logs l JOIN diorama_spans s
           ON s.run_id = l.run_id AND s.trace_id = l.trace_id AND s.span_id = l.span_id
          WHERE l.run_id = '$RUN'")
check "logs join their spans on trace_id/span_id ($n)" [ "${n:-0}" -gt 0 ]
n=$(sql "SELECT count(*) FROM diorama_spans WHERE run_id = '$RUN' AND parent_span_id IS NULL")
check "root spans have a NULL parent ($n)" [ "${n:-0}" -gt 0 ]
n=$(sql "SELECT count(DISTINCT seq) = count(*) FROM diorama_spans WHERE run_id = '$RUN'")
check "span seq numbers are unique" [ "$n" = t ]

# ---- 2. the server goes away for a few seconds in the middle of a real-time run ---------------
"$DIORAMA" run inference --speed 1 --duration 14s --seed 8 --metric-interval 1s \
  --shutdown-timeout 60s \
  --postgres "$URL" -q --summary-json "$TMP/s2.json" >"$TMP/run2.out" 2>"$TMP/run2.err" &
dio=$!
PIDS+=("$dio")
sleep 4
pg_stop
sleep 4
pg_start || fail "server restart"
wait "$dio"
rc=$?
RUN2=$(json "$TMP/s2.json" 'j.run_id')
check "outage run exits 0 or 5 (got $rc)" [ "$rc" = 0 -o "$rc" = 5 ]
grep -q 'retrying' "$TMP/run2.err"
check "the outage was reported: $(head -2 "$TMP/run2.err")" [ $? = 0 ]
for s in spans metric_points logs; do
  read -r gen del drop inf < <(json "$TMP/s2.json" \
    "[j.signals.$s.generated, j.signals.$s.delivered, j.signals.$s.dropped, j.signals.$s.in_flight].join(' ')")
  rows=$(sql "SELECT count(*) FROM ${TABLE[$s]} WHERE run_id = '$RUN2'")
  echo "outage $s: generated $gen delivered $del dropped $drop in_flight $inf rows $rows"
  check "outage $s: generated ($gen) == delivered ($del) + dropped ($drop)" \
    [ "$gen" -gt 0 -a "$gen" = $((del + drop)) -a "$inf" = 0 ]
  check "outage $s: rows ($rows) == delivered ($del): nothing doubled" [ "$rows" = "$del" ]
  # A 4 s outage is well inside the retry budget (60 s) and the queue: nothing may be lost.
  check "outage $s: nothing dropped ($drop)" [ "$drop" = 0 ]
done

# ---- 3. a server that refuses some rows: whole batches rejected, counted exactly --------------
# Another schema (the search_path in the URL, as docs/postgres.md says) whose diorama_logs
# refuses ERROR records: every transaction holding one rolls back and is dropped(rejected).
sql "CREATE SCHEMA strict AUTHORIZATION dio;
     CREATE TABLE strict.diorama_logs (LIKE public.diorama_logs, CHECK (severity_number < 17));
     ALTER TABLE strict.diorama_logs OWNER TO dio" >/dev/null
"$DIORAMA" run inference --speed 20 --duration 1m --seed 7 --signals logs -q \
  --postgres "$URL?options=-csearch_path%3Dstrict" --summary-json "$TMP/s3.json" \
  >"$TMP/rej.out" 2>"$TMP/rej.err"
rc=$?
read -r gen del rej inf < <(json "$TMP/s3.json" \
  "[j.signals.logs.generated, j.signals.logs.delivered, j.signals.logs.dropped_by_reason.rejected, j.signals.logs.in_flight].join(' ')")
rows=$(sql "SELECT count(*) FROM strict.diorama_logs")
brows=$(sql "SELECT coalesce(sum(rows), 0) FROM strict.diorama_batches WHERE signal = 'logs'")
echo "rejecting server: generated $gen delivered $del rejected $rej rows $rows (exit $rc)"
check "some batches rejected ($rej), exit 4 or 5 (got $rc)" [ "${rej:-0}" -gt 0 -a \( "$rc" = 4 -o "$rc" = 5 \) ]
check "generated ($gen) == delivered ($del) + rejected ($rej)" [ "$gen" = $((del + rej)) -a "$inf" = 0 ]
check "rows ($rows) == delivered ($del) == committed batch rows ($brows): no partial batch" \
  [ "$rows" = "$del" -a "$brows" = "$del" ]
check "the rejection was logged: $(head -1 "$TMP/rej.err")" grep -q 'rejected by the server.*check constraint' "$TMP/rej.err"
n=$(sql "SELECT count(*) FROM strict.diorama_spans")
check "the other tables were created in the URL's schema" [ "$n" = 0 ]

# ---- 3b. a COPY stuck behind another session's lock does not hold up the exit ---------------
psql -X -q -h "$SOCK" -p "$PORT" -U postgres -d dio -c "BEGIN" \
  -c "LOCK TABLE strict.diorama_logs IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(120)" \
  >/dev/null 2>&1 &
locker=$!
PIDS+=("$locker")
for _ in $(seq 100); do
  [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = 'diorama_logs' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] && break
  sleep 0.1
done
t0=$(date +%s)
timeout 120 "$DIORAMA" run inference --speed max --duration 20s --seed 7 --signals logs -q \
  --shutdown-timeout 2s --postgres "$URL?options=-csearch_path%3Dstrict" \
  --summary-json "$TMP/s3b.json" >"$TMP/lock.out" 2>"$TMP/lock.err"
rc=$?
t1=$(date +%s)
kill "$locker" 2>/dev/null
sd=$(json "$TMP/s3b.json" 'j.signals.logs.dropped_by_reason.shutdown')
check "blocked COPY: exit 4 within the shutdown deadline (rc $rc, $((t1 - t0)) s)" \
  [ "$rc" = 4 -a $((t1 - t0)) -lt 60 ]
check "blocked COPY: records counted dropped(shutdown) ($sd)" [ "${sd:-0}" -gt 0 ]

# ---- 4. errors: bad URL, unreachable server, wrong password ----------------------------------
"$DIORAMA" run inference --duration 1s --postgres "mysql://dio:$PW@127.0.0.1/dio" \
  >"$TMP/bad.out" 2>"$TMP/bad.err"
rc=$?
check "bad URL scheme exits 2 (got $rc)" [ "$rc" = 2 ]
check "bad URL message names --postgres: $(cat "$TMP/bad.err")" grep -q -- '--postgres' "$TMP/bad.err"
"$DIORAMA" run inference --duration 1s --postgres "postgresql://dio:$PW@127.0.0.1:99999/dio" \
  >"$TMP/bad2.out" 2>"$TMP/bad2.err"
rc=$?
check "bad URL port exits 2 (got $rc)" [ "$rc" = 2 ]
dead=$(free_port)
timeout 60 "$DIORAMA" run inference --duration 5s --postgres "postgresql://dio:$PW@127.0.0.1:$dead/dio" \
  >"$TMP/dead.out" 2>"$TMP/dead.err"
rc=$?
check "unreachable server exits 1 (got $rc)" [ "$rc" = 1 ]
check "unreachable message is clear: $(cat "$TMP/dead.err")" \
  grep -q "cannot connect to postgresql://dio:\*\*\*\*@127.0.0.1:$dead/dio.*refused" "$TMP/dead.err"
timeout 60 "$DIORAMA" run inference --duration 5s \
  --postgres "postgresql://dio:Wrong-$PW@127.0.0.1:$PORT/dio" >"$TMP/auth.out" 2>"$TMP/auth.err"
rc=$?
check "wrong password exits 1 (got $rc)" [ "$rc" = 1 ]
check "wrong password message: $(cat "$TMP/auth.err")" grep -q 'password authentication failed' "$TMP/auth.err"

# ---- 5. credentials from the environment -----------------------------------------------------
PGPASSWORD=$PW PGUSER=dio "$DIORAMA" run minimal --speed max --duration 30s --seed 3 \
  --postgres "postgresql://127.0.0.1:$PORT/dio" -q -v --summary-json "$TMP/s4.json" \
  >"$TMP/env.out" 2>"$TMP/env.err"
rc=$?
check "PGUSER/PGPASSWORD from the environment work (got $rc: $(tail -2 "$TMP/env.err"))" [ "$rc" = 0 ]

# ---- 6. the password never shows ------------------------------------------------------------
leaks=$(grep -l -F -- "$PW" "$TMP"/run1.* "$TMP"/run2.* "$TMP"/rej.* "$TMP"/lock.* "$TMP"/bad* "$TMP"/dead.* "$TMP"/auth.* \
  "$TMP"/env.* "$TMP"/s*.json 2>/dev/null)
check "password printed nowhere (found in: ${leaks:-none})" [ -z "$leaks" ]
check "the verbose banner masks it: $(grep -m1 connected "$TMP/run1.err")" \
  grep -q "connected to postgresql://dio:\*\*\*\*@127.0.0.1:$PORT/dio" "$TMP/run1.err"
finish
