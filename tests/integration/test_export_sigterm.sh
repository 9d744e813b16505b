#!/usr/bin/env bash
# export: a process exporting all three signals over OTLP/HTTP gets SIGTERM mid-export.
# Checks that shutdown flushes what is queued within the deadline, that the accounting balances
# and matches what the receiver counted, and that /metrics (world + diorama_* self-metrics)
# passes `promtool check metrics` while it runs. Peers run on 127.0.0.1 on free ports and are
# stopped by PID.
set -euo pipefail
BUILD=${BUILD:-build}
RECV=$BUILD/otlp_receiver
DRIVER=$BUILD/export_driver
for bin in "$RECV" "$DRIVER"; do
    [ -x "$bin" ] || { echo "skip: $bin not built"; exit 77; }
done
command -v jq >/dev/null || { echo "skip: jq not installed"; exit 77; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

wait_file() { # path
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
    fail "$1 did not appear"
}

start_receiver() { # name, receiver args...
    local name=$1; shift
    "$RECV" --port-file "$tmp/$name.port" --stats "$tmp/$name.stats" "$@" &
    pids+=($!)
    echo $! >"$tmp/$name.pid"
    wait_file "$tmp/$name.port"
}

stop_pid() { # pid: SIGTERM, wait, exit status
    kill -TERM "$1"
    local rc=0
    wait "$1" || rc=$?
    return $rc
}

# check_balance stats.json: generated == delivered + dropped + timed_out + in_flight, in_flight == 0.
check_balance() {
    jq -e '[.outputs[].signals[] | select(.generated != .delivered + .dropped_total + .timed_out
             + .in_flight or .in_flight != 0)] | length == 0' "$1" >/dev/null ||
        fail "accounting does not balance: $(cat "$1")"
}

# --- 1. fast receiver: everything generated is delivered, exactly what the receiver got ------
start_receiver fast
port=$(cat "$tmp/fast.port")
"$DRIVER" --url "http://127.0.0.1:$port" --gzip --rate 200 --batch 25 --deadline-ms 3000 \
    --prom 127.0.0.1:0 --prom-port-file "$tmp/prom.port" --out "$tmp/driver1.json" &
drv=$!
pids+=($drv)
wait_file "$tmp/prom.port"
sleep 1
prom=$(cat "$tmp/prom.port")
curl -sfS -D "$tmp/headers" "http://127.0.0.1:$prom/metrics" >"$tmp/scrape.txt"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$tmp/headers" ||
    fail "wrong content type: $(cat "$tmp/headers")"
grep -q '^diorama_records_delivered_total{signal="spans",output="otlp_http"} [1-9]' \
    "$tmp/scrape.txt" || fail "no delivered spans in the scrape"
grep -q '^diorama_build_info{version=' "$tmp/scrape.txt" || fail "no build info"
if command -v promtool >/dev/null; then
    promtool check metrics <"$tmp/scrape.txt" || fail "promtool check metrics failed"
fi
stop_pid "$drv" || fail "driver exited with $?"
stop_pid "$(cat "$tmp/fast.pid")" || fail "receiver exited with $?"
check_balance "$tmp/driver1.json"
d=$tmp/driver1.json r=$tmp/fast.stats
for pair in spans:spans metric_points:points logs:logs; do
    sig=${pair%%:*} key=${pair##*:}
    gen=$(jq ".outputs[0].signals.$sig.generated" "$d")
    del=$(jq ".outputs[0].signals.$sig.delivered" "$d")
    got=$(jq ".$key" "$r")
    [ "$gen" -gt 0 ] || fail "$sig: nothing generated"
    [ "$del" = "$gen" ] || fail "$sig: delivered $del of $gen with a healthy receiver"
    [ "$got" = "$del" ] || fail "$sig: receiver counted $got, exporter delivered $del"
done
[ "$(jq .gzip "$r")" = "$(jq .requests "$r")" ] || fail "not every request was gzipped"
ms=$(jq .shutdown_ms "$d")
[ "$ms" -lt 3000 ] || fail "shutdown took ${ms} ms with a healthy receiver"
echo "ok 1: fast receiver, $(jq .requests "$r") requests, shutdown ${ms} ms"

# --- 2. slow receiver: shutdown stops at the deadline and counts the rest as shutdown ----------
start_receiver slow --delay-ms 400
port=$(cat "$tmp/slow.port")
"$DRIVER" --url "http://127.0.0.1:$port" --rate 100 --batch 10 --max-concurrent 1 \
    --deadline-ms 1000 --out "$tmp/driver2.json" &
drv=$!
pids+=($drv)
sleep 1.5
stop_pid "$drv" || fail "driver exited with $?"
stop_pid "$(cat "$tmp/slow.pid")" || fail "receiver exited with $?"
d=$tmp/driver2.json
check_balance "$d"
ms=$(jq .shutdown_ms "$d")
[ "$ms" -le 2500 ] || fail "shutdown took ${ms} ms, deadline was 1000 ms (2.5 s allowed for a loaded machine)"
shut=$(jq '[.outputs[0].signals[].dropped.shutdown] | add' "$d")
del=$(jq '[.outputs[0].signals[].delivered] | add' "$d")
tout=$(jq '[.outputs[0].signals[].timed_out] | add' "$d")
got=$(jq '.items_ok' "$tmp/slow.stats")
[ "$shut" -gt 0 ] || fail "expected records dropped at the deadline"
[ "$got" -ge "$del" ] || fail "receiver got $got < delivered $del"
# A request cut at the deadline after the receiver took it is timed_out, never dropped.
[ "$got" -le "$((del + tout))" ] || fail "receiver got $got > delivered $del + timed out $tout"
echo "ok 2: slow receiver, delivered $del, timed out $tout, dropped(shutdown) $shut, shutdown ${ms} ms"

# --- 3. no receiver, drop mode: queue_full drops are counted, nothing hangs --------------------
"$DRIVER" --url "http://127.0.0.1:1" --drop --rate 400 --batch 10 --max-concurrent 1 \
    --deadline-ms 500 --prom 127.0.0.1:0 --prom-port-file "$tmp/prom3.port" \
    --out "$tmp/driver3.json" &
drv=$!
pids+=($drv)
wait_file "$tmp/prom3.port"
# Until the queue has overflowed once (a loaded machine may take longer than a fixed sleep).
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$(cat "$tmp/prom3.port")/metrics" |
        grep -q '^diorama_records_dropped_total{.*reason="queue_full"} [1-9]' && break
    sleep 0.05
done
stop_pid "$drv" || fail "driver exited with $?"
check_balance "$tmp/driver3.json"
[ "$(jq '.outputs[0].signals.spans.delivered' "$tmp/driver3.json")" = 0 ] || fail "delivered?"
[ "$(jq '[.outputs[0].signals[].dropped.queue_full] | add' "$tmp/driver3.json")" -gt 0 ] ||
    fail "expected queue_full drops"
echo "ok 3: unreachable collector, drop mode balanced"
