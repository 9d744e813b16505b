#!/usr/bin/env bash
# Rewrites tests/data/golden/dataset/fleet.csv, the --dataset output that
# tests/integration/test_run_dataset.sh compares byte for byte. Run it only when a change of
# the dataset's content is intended, and say why in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/diorama}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in $(env | grep -o '^OTEL_[A-Z_]*'); do unset "$v"; done
"$bin" run fleet --speed max --duration 5m --seed 7 --start 2026-01-01T00:00:00Z \
  --dataset "$tmp" --dataset-format csv -q >/dev/null
mkdir -p tests/data/golden/dataset
cp "$tmp/metrics.csv" tests/data/golden/dataset/fleet.csv
echo "wrote tests/data/golden/dataset/fleet.csv ($(wc -l <tests/data/golden/dataset/fleet.csv) lines)"
