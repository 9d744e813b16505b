#!/usr/bin/env bash
# `make run` on a fresh Debian 12 (issue 10: "under 3 minutes including installs"), one JSON
# object on stdout. A fresh machine is a debootstrap minbase chroot (needs root and the Debian
# archive): apt-get update and git, make, ca-certificates come first (a user needs them to
# clone), then this repository's HEAD is cloned and `make run` timed until it prints the
# console URL and GET / answers.
#
#   prelude_s               apt-get update + git make ca-certificates
#   make_run_to_console_s   `make run` (install-deps.sh --run, the Release build) to the console
#
# usage: bench/fresh_machine.sh [DIR]   DIR: where the chroot goes (default a temp dir; removed)
# The machine's extra CA certificates (/usr/local/share/ca-certificates, e.g. a proxy's) are
# copied in, as a fresh machine on the same network would have them.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "fresh_machine: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
KEEP=${1:-}
C=${1:-$(mktemp -d /tmp/diorama-fresh.XXXXXX)}
chmod 755 "$C" # a root file system: apt's _apt user reads it
cleanup() {
  pkill -INT -f "build-release/diorama up" 2>/dev/null || true
  sleep 1
  for m in dev sys proc; do umount -R "$C/$m" 2>/dev/null || true; done
  [ -n "$KEEP" ] || rm -rf "$C" "$C.debootstrap.log"
}
trap cleanup EXIT
debootstrap --variant=minbase bookworm "$C" http://deb.debian.org/debian >"$C.debootstrap.log" 2>&1
cp /etc/resolv.conf "$C/etc/resolv.conf"
printf '%s\n' "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main" >"$C/etc/apt/sources.list"
mkdir -p "$C/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$C/usr/local/share/ca-certificates/" 2>/dev/null || true
mount -t proc proc "$C/proc" && mount --rbind /dev "$C/dev" && mount --rbind /sys "$C/sys"
git clone -q . "$C/src"
cat >"$C/timeit.sh" <<'EOF'
export DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
now() { date +%s.%N; }
t0=$(now)
apt-get update -qq && apt-get install -y -qq --no-install-recommends git make ca-certificates >/dev/null 2>&1
update-ca-certificates >/dev/null 2>&1
t1=$(now)
git clone -q /src /root/diorama && cd /root/diorama
make run >/root/makerun.log 2>&1 &
while ! grep -q "console: http" /root/makerun.log; do
  sleep 0.2; kill -0 $! 2>/dev/null || { tail /root/makerun.log >&2; exit 1; }
done
exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && read -r status <&3
t2=$(now)
echo "$t0 $t1 $t2 ${status%$'\r'}"
EOF
read -r t0 t1 t2 status < <(chroot "$C" bash /timeit.sh)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v s="$status" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
  'BEGIN { printf "{\"prelude_s\": %.1f, \"make_run_to_console_s\": %.1f, \"total_s\": %.1f, \"goal_s\": 180, \"get_root\": \"%s\", \"load_average\": \"%s\"}\n", b - a, c - b, c - a, s, l }'
