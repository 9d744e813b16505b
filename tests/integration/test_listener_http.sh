#!/usr/bin/env bash
# Request framing on every listener (sink and serve), raw bytes as RFC 9112 section 6 says:
# conflicting Content-Length fields, Content-Length with Transfer-Encoding, a bad
# Content-Length, a transfer coding other than chunked: answered 400 (501 for a coding we do
# not implement) and the connection closed. Every refusal is answered once (one status line:
# libmicrohttpd wrote two header blocks for Content-Length: -1). A chunk size of 2^64-1 is
# answered 413 (over the body cap) or 400 and closed at once (libmicrohttpd answered nothing
# and held the connection until the idle timeout); a chunk size over 64 bits, a bad chunk
# CRLF, obs-fold, whitespace before a colon, an over-long request line or header block are
# refused too. Each exchange is bounded by 10 s, so a listener that holds the connection
# fails the check instead of hanging the test.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 not installed"
# exchange PORT BYTES (printf %b escapes) -> the answer in $TMP/resp; $TMP/rc is 0 when the
# server closed the connection within 10 s, 1 when it held it.
exchange() {
  printf '%b' "$2" >"$TMP/req"
  python3 - "$1" "$TMP/req" "$TMP/resp" "$TMP/rc" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
s.settimeout(10)
got, rc = b"", 1
try:
    while True:
        d = s.recv(65536)
        if not d:
            rc = 0
            break
        got += d
except OSError:
    pass
open(sys.argv[3], "wb").write(got)
open(sys.argv[4], "w").write("%d\n" % rc)
PY
}

expect_close() { # expect_close NAME PORT STATUS BYTES (STATUS: 400 or 400|413)
  local name=$1 port=$2 want=$3
  exchange "$port" "$4"
  local first n code
  first=$(head -1 "$TMP/resp" | tr -d '\r')
  code=$(echo "$first" | cut -d' ' -f2)
  check "$name: status '$first', want $want" [ "${first#HTTP/1.1 }" != "$first" -a \
    -n "$(echo "$code" | grep -xE "$want")" ]
  check "$name: connection closed (timeout exit $(cat "$TMP/rc"))" [ "$(cat "$TMP/rc")" = 0 ]
  n=$(grep -ac '^HTTP/1\.1 ' "$TMP/resp")
  check "$name: answered once ($n status lines)" [ "$n" = 1 ]
}

cases() { # cases NAME PORT METHOD PATH
  local n=$1 p=$2
  local h="$3 $4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
  expect_close "$n two Content-Length" "$p" 400 "${h}Content-Length: 2\r\nContent-Length: 4\r\n\r\n{}{}"
  expect_close "$n Content-Length + Transfer-Encoding" "$p" 400 \
    "${h}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
  expect_close "$n Content-Length: -1" "$p" 400 "${h}Content-Length: -1\r\n\r\n{}"
  expect_close "$n Transfer-Encoding: identity" "$p" 400 \
    "${h}Transfer-Encoding: identity\r\n\r\n{}"
  expect_close "$n Transfer-Encoding: gzip, chunked" "$p" 501 \
    "${h}Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
  expect_close "$n chunked twice" "$p" 400 \
    "${h}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
  local te="${h}Transfer-Encoding: chunked\r\n\r\n"
  expect_close "$n chunk size 2^64-1" "$p" '400|413' "${te}FFFFFFFFFFFFFFFF\r\n{}"
  expect_close "$n chunk size over 64 bits" "$p" 400 "${te}1FFFFFFFFFFFFFFFF\r\n{}"
  expect_close "$n chunk without CRLF" "$p" 400 "${te}2\r\n{}XX0\r\n\r\n"
  expect_close "$n obs-fold" "$p" 400 "${h}X-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n"
  expect_close "$n space before colon" "$p" 400 "${h}Content-Length : 0\r\n\r\n"
  expect_close "$n request line too long" "$p" 414 "$3 /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n"
  expect_close "$n header block too large" "$p" 431 "${h}X-Big: $(head -c 40000 /dev/zero | tr '\0' a)\r\n\r\n"
  # A well-formed request on the same listener is still answered.
  expect_close "$n well-formed" "$p" 200 \
    "${h}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
}

for who in sink serve; do
  if [ $who = sink ]; then
    "$DIORAMA" sink --listen 127.0.0.1:0 --port-file "$TMP/port.$who" --idle-timeout 1s -q \
      >"$TMP/out.$who" 2>&1 &
  else
    "$DIORAMA" serve minimal --listen 127.0.0.1:0 --port-file "$TMP/port.$who" \
      --idle-timeout 1s -q >"$TMP/out.$who" 2>&1 &
  fi
  P=$!
  PIDS+=($P)
  for _ in $(seq 200); do [ -s "$TMP/port.$who" ] && break; sleep 0.05; done
  port=$(cat "$TMP/port.$who")
  if [ $who = sink ]; then cases sink "$port" POST /v1/traces; else cases serve "$port" GET /hello; fi
  kill "$P"
  wait "$P"
done
finish
