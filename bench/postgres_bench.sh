#!/usr/bin/env bash
# Rows/s into PostgreSQL: diorama's COPY output (`run --speed max --postgres`, spans only) next
# to psql's \copy of the same rows from a file, into the same server in the same run. Each
# round: diorama writes N spans into an empty diorama_spans; the table is exported with
# COPY TO to a file, truncated, and \copy-ed back from the file (timed). Median of ROUNDS.
# Prints one JSON object.
#
# usage: bench/postgres_bench.sh [--duration D] [--rounds N]   (BUILD=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
D=$(realpath "$BUILD/diorama")
DUR=5m
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in --duration) DUR=$2; shift ;; --rounds) ROUNDS=$2; shift ;; *) echo "unknown $1" >&2; exit 2 ;; esac
  shift
done
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || { echo "postgres_bench: PostgreSQL 15 not installed" >&2; exit 1; }
TMP=$(mktemp -d)
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); chmod 755 "$TMP"; fi
PGD=$TMP/sock/data
mkdir -p "$PGD"
[ ${#AS[@]} = 0 ] || chown -R postgres "$TMP/sock"
chmod 777 "$TMP" # the server writes the COPY TO file
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
stop() {
  local p
  p=$(head -1 "$PGD/postmaster.pid" 2>/dev/null || true)
  [ -z "$p" ] || { kill -INT "$p" 2>/dev/null || true; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; }
  rm -rf "$TMP"
}
trap stop EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$PGD" -U postgres -E UTF8 --locale=C --auth-local=trust \
  --auth-host=trust >/dev/null
# Settings of a throwaway benchmark server, the same for both contenders.
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGD" -l "$TMP/sock/pg.log" -w \
  -o "-k $TMP/sock -h 127.0.0.1 -p $PORT -c fsync=off -c synchronous_commit=off -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=4GB" \
  start >/dev/null
sql() { psql -X -q -At -h "$TMP/sock" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

d_rates=()
p_rates=()
rows=0
for r in $(seq "$ROUNDS"); do
  sql "DROP TABLE IF EXISTS diorama_spans; DROP TABLE IF EXISTS diorama_batches" >/dev/null
  "$D" run inference --speed max --duration "$DUR" --signals traces --shutdown-timeout 10m -q \
    --postgres "$URL" --summary-json "$TMP/s.json" >/dev/null
  read -r del wall < <(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(j.signals.spans.delivered, j.wall_seconds)' "$TMP/s.json")
  rows=$(sql "SELECT count(*) FROM diorama_spans")
  [ "$rows" = "$del" ] || { echo "postgres_bench: $rows rows but $del delivered" >&2; exit 1; }
  d_rates+=("$(node -e "console.log(Math.round($del / $wall))")")
  sql "COPY diorama_spans TO '$TMP/spans.copy'" >/dev/null
  sql "TRUNCATE diorama_spans; CHECKPOINT" >/dev/null
  t0=$(now)
  psql -X -q -h "$TMP/sock" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "\\copy diorama_spans FROM '$TMP/spans.copy'" >/dev/null
  t1=$(now)
  back=$(sql "SELECT count(*) FROM diorama_spans")
  [ "$back" = "$rows" ] || { echo "postgres_bench: \\copy loaded $back of $rows" >&2; exit 1; }
  p_rates+=("$(node -e "console.log(Math.round($rows / ($t1 - $t0)))")")
  bytes=$(stat -c %s "$TMP/spans.copy")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
dm=$(med "${d_rates[@]}")
pm=$(med "${p_rates[@]}")
cat <<JSON
{
  "machine": {"nproc": $(nproc), "date": "$(date -u +%FT%TZ)", "postgres": "$("$PGBIN/postgres" --version | awk '{print $3}')"},
  "rows_per_round": $rows, "copy_file_bytes": $bytes, "rounds": $ROUNDS,
  "diorama_copy_rows_per_sec": {"median": $dm, "all": [$(IFS=,; echo "${d_rates[*]}")]},
  "psql_copy_rows_per_sec": {"median": $pm, "all": [$(IFS=,; echo "${p_rates[*]}")]},
  "ratio": $(node -e "console.log(($dm / $pm).toFixed(2))"),
  "note": "diorama's rate includes generating the spans (end to end, --speed max); psql's is the load alone"
}
JSON
