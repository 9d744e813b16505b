#!/usr/bin/env bash
# One listen-address rule and one exit-code rule in every subcommand with a listener (sink,
# serve, run --prom-listen; docs/listeners.md, docs/cli.md): a malformed address or listener
# flag is a usage error (exit 2, message names the flag) found before anything starts; a
# busy port is a runtime error (exit 1, the reason given); a bare port binds 127.0.0.1.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl not installed"

expect_rc() { # expect_rc RC "stderr substring" ARGS...
  local want=$1 msg=$2
  shift 2
  timeout 20 "$DIORAMA" "$@" >"$TMP/o" 2>"$TMP/e"
  local rc=$?
  check "$*: exit $rc, want $want ($(head -c 300 "$TMP/e"))" [ "$rc" = "$want" ]
  [ -z "$msg" ] || check "$*: message has '$msg'" grep -qF -- "$msg" "$TMP/e"
}

RUN=(run minimal --null --duration 1s -q)
while read -r flag value msg; do
  for cmd in "sink" "serve minimal" "run"; do
    f=$flag
    [ "$cmd" = run ] && { [ "$f" = --listen ] && f=--prom-listen || f=--prom-${f#--}; }
    if [ "$cmd" = run ]; then
      expect_rc 2 "$f" "${RUN[@]}" --prom-listen 127.0.0.1:0 "$f" "$value"
    else
      # shellcheck disable=SC2086
      expect_rc 2 "$f" $cmd "$f" "$value"
    fi
    [ -z "$msg" ] || check "$cmd $f $value: says '$msg'" grep -qF -- "$msg" "$TMP/e"
  done
done <<'TABLE'
--listen 127.0.0.1:http the port must be a number
--listen 127.0.0.1:99999 0..65535
--listen ::1:80 needs brackets
--listen [::1] inside [ ]
--listen 127.0.0.1: the port must be a number
--max-connections 0 1..1000000
--max-connections lots 1..1000000
--header-timeout 10ms 100ms to 1h
--idle-timeout 0 1s to 1h
TABLE
expect_rc 2 "--prom-max-bytes" "${RUN[@]}" --prom-listen 127.0.0.1:0 --prom-max-bytes 12
DIORAMA_SERVE_LISTEN=nope:x expect_rc 2 "DIORAMA_SERVE_LISTEN" serve minimal

# A busy port: runtime error, exit 1, with the reason.
"$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port" -q >/dev/null 2>&1 &
SP=$!
PIDS+=($SP)
for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
busy=$(cat "$TMP/port")
expect_rc 1 "Address already in use" sink --listen "127.0.0.1:$busy" --duration 1s -q
expect_rc 1 "Address already in use" serve minimal --listen "127.0.0.1:$busy" -q
expect_rc 1 "Address already in use" "${RUN[@]}" --prom-listen "127.0.0.1:$busy"
kill "$SP"
wait "$SP"

# A bare port is 127.0.0.1 (run --prom-listen 19480 used to bind 0.0.0.0).
port=$(free_port)
"$DIORAMA" run minimal --null --prom-listen "$port" --duration 30s -q >/dev/null 2>&1 &
RP=$!
PIDS+=($RP)
wait_port "$port" 20
bound=$( (ss -ltnH "( sport = :$port )" 2>/dev/null || netstat -ltn 2>/dev/null | grep ":$port ") | awk '{print $4}' | head -1)
check "bare --prom-listen $port binds 127.0.0.1 (bound: $bound)" [ "$bound" = "127.0.0.1:$port" ]
kill "$RP"
wait "$RP" 2>/dev/null
finish
