#!/usr/bin/env bash
# Builds every fuzz/fuzz_*.c with clang + libFuzzer (+ASan/UBSan) and runs each for N seconds
# on its corpus in fuzz/corpus/<name>/ (new inputs go to a scratch dir, not the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DDIORAMA_FUZZ=ON -DDIORAMA_SANITIZE=ON >/dev/null
targets=$(ls fuzz/fuzz_*.c | xargs -n1 basename | sed 's/\.c$//')
cmake --build build-fuzz -j "$(nproc)" --target $targets >/dev/null
fail=0
for t in $targets; do
  scratch=$(mktemp -d)
  mkdir -p "fuzz/corpus/$t"
  if build-fuzz/$t -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix="$scratch/" "$scratch" "fuzz/corpus/$t" >"$scratch/log" 2>&1; then
    echo "fuzz: $t ok ($(grep -c . <(ls "$scratch")) new inputs, ${secs}s)"
  else
    echo "fuzz: $t FAILED"; tail -40 "$scratch/log"; fail=1
  fi
  rm -rf "$scratch"
done
exit $fail
