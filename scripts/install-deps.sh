#!/usr/bin/env bash
# Installs what diorama needs on Debian 12: apt packages (only the missing ones) and npm
# packages. Safe to run repeatedly.
#   install-deps.sh        build, test and benchmark: compilers, libraries, every test peer
#   install-deps.sh --run  only what `make run` needs: the build's libraries and the web
#                          console's npm assets (no test peers, no browser, no databases)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=all
[ "${1:-}" = --run ] && MODE=run

APT_PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libcurl4-openssl-dev libyaml-dev zlib1g-dev libjansson-dev libcmocka-dev
  libsnappy-dev libprotobuf-c-dev protobuf-c-compiler
  libssl-dev chromium prometheus nginx-light wrk curl procps jq
  libpq-dev postgresql libnghttp2-dev nghttp2-client victoria-metrics influxdb
  strace) # strace: test_run_tui counts write(2)s per --tui frame
# What the build itself needs (make run). libcmocka is only for the tests.
RUN_PKGS=(build-essential cmake pkg-config libcurl4-openssl-dev libyaml-dev zlib1g-dev
  libjansson-dev libsnappy-dev libprotobuf-c-dev protobuf-c-compiler libssl-dev
  libpq-dev libnghttp2-dev curl ca-certificates)
# Node.js for the npm test peers: Debian's packages only when no node/npm is there already (a
# NodeSource nodejs bundles npm and conflicts with Debian's npm package). `make run` needs no
# node: the console's one npm package is fetched from the registry by fetch_locked below.
if [ "$MODE" = run ]; then
  APT_PKGS=("${RUN_PKGS[@]}")
else
  command -v node >/dev/null 2>&1 || APT_PKGS+=(nodejs)
  command -v npm >/dev/null 2>&1 || APT_PKGS+=(npm)
fi

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nginx starts a system service on install; tests run their own on loopback.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now nginx victoria-metrics influxdb >/dev/null 2>&1 || true
fi

# Without npm (make run on a fresh machine): each package pinned in DIR/package-lock.json is
# fetched from the npm registry and checked against the lockfile's sha512 integrity before it
# is unpacked, as `npm ci` would (Debian's npm package alone is 300+ packages to install). Only
# for lockfiles of plain packages without dependencies, like web/'s.
fetch_locked() {
  local d=$1 name ver sri tgz
  rm -rf "$d/node_modules.tmp" && mkdir -p "$d/node_modules.tmp"
  while read -r name ver sri; do
    tgz="$d/node_modules.tmp/pkg.tgz"
    curl -fsSL --retry 3 -o "$tgz" "${NPM_REGISTRY:-https://registry.npmjs.org}/$name/-/${name##*/}-$ver.tgz"
    if [ "$(echo "${sri#sha512-}" | base64 -d | od -An -tx1 | tr -d ' \n')" != \
      "$(sha512sum "$tgz" | cut -d' ' -f1)" ]; then
      echo "install-deps: $name@$ver does not match the integrity in $d/package-lock.json" >&2
      exit 1
    fi
    mkdir -p "$d/node_modules.tmp/$name"
    tar -xzf "$tgz" -C "$d/node_modules.tmp/$name" --strip-components=1 && rm "$tgz"
  done < <(tr -d '\n ' <"$d/package-lock.json" | grep -o '"node_modules/[^"]*":{"version":"[^"]*","integrity":"sha512-[^"]*"' |
    sed -E 's/"node_modules\/([^"]*)":\{"version":"([^"]*)","integrity":"([^"]*)"/\1 \2 \3/')
  rm -rf "$d/node_modules" && mv "$d/node_modules.tmp" "$d/node_modules"
}

# npm packages: the console's assets (web) and the test peers (the OTLP decoder generated from
# opentelemetry-proto, the OTel JS SDK).
NPM_DIRS=(web tests/node bench/node)
[ "$MODE" = run ] && NPM_DIRS=(web)
for d in "${NPM_DIRS[@]}"; do
  if [ -f "$d/package.json" ] && [ ! -d "$d/node_modules" -o "$d/package.json" -nt "$d/node_modules" ]; then
    echo "install-deps: npm packages in $d"
    if ! command -v npm >/dev/null 2>&1; then fetch_locked "$d"
    elif [ -f "$d/package-lock.json" ]; then (cd "$d" && npm ci --no-audit --no-fund --silent)
    else (cd "$d" && npm install --no-audit --no-fund --silent); fi
    touch "$d/node_modules"
  fi
done
