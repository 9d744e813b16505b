#!/usr/bin/env bash
# The live control API's figures (issue 10), printed as one JSON object:
#   state_to_sse_ms      PUT /api/entities/ppdb002/state -> the label event at an SSE client
#   state_to_metrics_ms  the same PUT -> ppdb002's CPU on a /metrics scrape (--metric-interval 1s)
#                        over N changes (critical <-> healthy), p50 / p99 / max. The PUTs are
#                        spread over the interval's phase; the scrape (10 ms apart) finds only the
#                        lines it needs, so a slow parse does not add to the figure
#   api_ms               control API latency (GET /api/world, PUT state) while a --speed max run
#                        goes as fast as it can: p50 / p99 over M requests (one keep-alive client);
#                        api_ms_world_idle: the same against a --speed 1 run in the same bench
#                        (what the machine's load alone costs)
#   spans_per_s          inference --speed max --null --control, with 0 and with 10 SSE clients
#                        attached: median of 3 runs each (interleaved), with the process's CPU
#                        seconds per million spans (user + sys, all threads): the figure a busy
#                        machine does not blur (bench/sse_bench.sh: the same with the console's
#                        ?labels=incident streams as well, side by side)
# Usage: bench/live_bench.sh [DIORAMA] [N changes, default 100] [M requests, default 1000]
# Needs python3 (the clients). Not a test: it asserts nothing; read the figures.
set -euo pipefail
D=${1:-build/diorama}
N=${2:-100}
M=${3:-1000}
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT

url_of() { # url_of ERRFILE NAME: the banner's base URL for NAME ("control API", "/metrics")
  for _ in $(seq 1 100); do
    u=$(sed -n "s#.*$2 *\(http://[^/]*\)/.*#\1#p" "$1" | head -1)
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.1
  done
  return 1
}

# ---- 1, 2: a change reaching the stream and the telemetry ---------------------------------
"$D" run fleet --speed 1 --duration 1h --null --control 127.0.0.1:0 --prom-listen 127.0.0.1:0 \
  --metric-interval 1s >/dev/null 2>"$TMP/a.err" &
PIDS+=($!)
CTL=$(url_of "$TMP/a.err" "control API")
MET=$(url_of "$TMP/a.err" "/metrics")
python3 - "$CTL" "$MET" "$N" >"$TMP/changes.json" <<'EOF'
import http.client, json, sys, threading, time, urllib.parse
ctl, met, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cu, mu = urllib.parse.urlparse(ctl), urllib.parse.urlparse(met)
seen = {}  # state -> list of arrival times of its label events
lock = threading.Condition()
def stream():
    c = http.client.HTTPConnection(cu.hostname, cu.port)
    c.request("GET", "/api/stream")
    r = c.getresponse()
    ev = None
    for line in r:
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            ev = line[7:]
        elif line.startswith("data: ") and ev == "label":
            l = json.loads(line[6:])["label"]
            if l.get("target") == "ppdb002" and l.get("kind") == "state" and l.get("phase") == "begin":
                with lock:
                    seen.setdefault(l["state"], []).append(time.monotonic()); lock.notify_all()
            elif l.get("target") == "ppdb002" and l.get("phase") == "end":
                with lock:
                    seen.setdefault("healthy", []).append(time.monotonic()); lock.notify_all()
threading.Thread(target=stream, daemon=True).start()
time.sleep(1.5)
import re
idle = re.compile(rb'^system_cpu_utilization\w*\{[^}]*"ppdb002"[^}]*"idle"[^}]*\} (\S+)', re.M)
mc = http.client.HTTPConnection(mu.hostname, mu.port, timeout=5)
def cpu():
    mc.request("GET", "/metrics")
    busy = [1 - float(v) for v in idle.findall(mc.getresponse().read())]
    return sum(busy) / len(busy) if busy else None
ctl_c = http.client.HTTPConnection(cu.hostname, cu.port)
sse, tel, missed = [], [], 0
for i in range(n):
    st = "critical" if i % 2 == 0 else "healthy"
    time.sleep(0.13 * (i % 8))  # the PUTs land at every phase of the metric interval
    with lock:
        before = len(seen.get(st, []))
    t0 = time.monotonic()
    ctl_c.request("PUT", "/api/entities/ppdb002/state", body=json.dumps({"state": st}))
    ctl_c.getresponse().read()
    with lock:
        lock.wait_for(lambda: len(seen.get(st, [])) > before, timeout=5)
        got = seen.get(st, [])
        if len(got) > before:
            sse.append((got[before] - t0) * 1e3)
        else:
            missed += 1
    while time.monotonic() - t0 < 5:  # until a scrape shows it (hot > 0.8, cold < 0.6)
        v = cpu()
        if v is not None and ((st == "critical" and v > 0.8) or (st == "healthy" and v < 0.6)):
            tel.append((time.monotonic() - t0) * 1e3)
            break
        time.sleep(0.01)
def q(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(p * len(v)))], 1) if v else None
print(json.dumps({"changes": n,
  "state_to_sse_ms": {"n": len(sse), "p50": q(sse, .5), "p99": q(sse, .99), "max": q(sse, 1), "missed": missed},
  "state_to_metrics_ms": {"n": len(tel), "p50": q(tel, .5), "p99": q(tel, .99), "max": q(tel, 1),
                          "metric_interval_ms": 1000}}))
EOF
kill "${PIDS[0]}" 2>/dev/null || true

# ---- 3: API latency while the world runs flat out (and, for the machine's share, idle) -----
api_run() { # api_run SPEED OUT
"$D" run fleet --speed "$1" --duration 30d --null -q --control 127.0.0.1:0 >/dev/null 2>"$TMP/b.err" &
PIDS+=($!)
sleep 0.5
# -q hides the banner: find the port from the process's listening sockets
BPID=${PIDS[-1]}
for _ in $(seq 1 50); do
  PORT=$(ss -ltnp 2>/dev/null | awk -v p="pid=$BPID," '$0 ~ p {split($4, a, ":"); print a[length(a)]; exit}')
  [ -n "$PORT" ] && break
  sleep 0.1
done
python3 - "$PORT" "$M" >"$2" <<'EOF'
import http.client, json, sys, time
port, m = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
lat = {"GET /api/world": [], "PUT state": []}
for i in range(m):
    t0 = time.perf_counter()
    if i % 2:
        c.request("GET", "/api/world")
        k = "GET /api/world"
    else:
        c.request("PUT", "/api/entities/ppdb002/state", body='{"state":"%s"}' % ("critical", "healthy")[i // 2 % 2])
        k = "PUT state"
    r = c.getresponse(); r.read()
    lat[k].append((time.perf_counter() - t0) * 1e3)
def q(v, p):
    v = sorted(v); return round(v[min(len(v) - 1, int(p * len(v)))], 2)
print(json.dumps({k: {"n": len(v), "p50": q(v, .5), "p99": q(v, .99)} for k, v in lat.items()}))
EOF
kill "$BPID" 2>/dev/null || true
}
api_run max "$TMP/api.json"
api_run 1 "$TMP/api_idle.json"

# ---- 4: spans/s with and without 10 SSE clients --------------------------------------------
spans_rate() { # spans_rate CLIENTS: "spans/s CPU-s-per-million-spans" of one run
  /usr/bin/time -f "%U %S" -o "$TMP/r.time" "$D" run inference --speed max --duration 2h --null --control 127.0.0.1:0 >"$TMP/r.out" 2>"$TMP/r.err" &
  local pid=$! cp=()
  PIDS+=($pid)
  if [ "$1" -gt 0 ]; then
    local u
    u=$(url_of "$TMP/r.err" "control API")
    for _ in $(seq 1 "$1"); do curl -sN "$u/api/stream" >/dev/null 2>&1 & cp+=($!); PIDS+=($!); done
  fi
  wait $pid || true
  for p in "${cp[@]}"; do kill "$p" 2>/dev/null || true; done
  awk -v cpu="$(awk '{print $1 + $2}' "$TMP/r.time")" '/simulated .* in .*s wall/ {for (i=1;i<=NF;i++) if ($i=="in") w=$(i+1)} /spans +generated/ {g=$3} END {sub("s","",w); printf "%.0f %.3f\n", g/w, cpu * 1e6 / g}' "$TMP/r.out"
}
median3() { sort -n | sed -n 2p; }
for _ in 1 2 3; do spans_rate 0 >>"$TMP/s0"; spans_rate 10 >>"$TMP/s10"; done # interleaved
S0=$(cut -d' ' -f1 "$TMP/s0" | median3)
S10=$(cut -d' ' -f1 "$TMP/s10" | median3)
C0=$(cut -d' ' -f2 "$TMP/s0" | median3)
C10=$(cut -d' ' -f2 "$TMP/s10" | median3)

python3 - "$TMP/changes.json" "$TMP/api.json" "$TMP/api_idle.json" "$S0" "$S10" "$C0" "$C10" <<'EOF'
import json, os, sys
ch = json.load(open(sys.argv[1])); api = json.load(open(sys.argv[2]))
idle = json.load(open(sys.argv[3]))
s0, s10, c0, c10 = (float(x) for x in sys.argv[4:8])
print(json.dumps({"bench": "live", "loadavg_1m": os.getloadavg()[0], "cpus": os.cpu_count(),
                  **ch, "api_ms": api, "api_ms_world_idle": idle,
                  "spans_per_s": {"sse_0": s0, "sse_10": s10,
                                  "ratio": round(s10 / s0, 3) if s0 else None},
                  "cpu_s_per_million_spans": {"sse_0": c0, "sse_10": c10,
                                              "ratio": round(c10 / c0, 3) if c0 else None}},
                 indent=1))
EOF
