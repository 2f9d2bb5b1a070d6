#!/usr/bin/env bash
# Times the release binary's `nomad-spec analyze` on the generated 50,000-file monorepo and
# reads its peak memory from `/usr/bin/time -v`. See bench/README.md.
set -euo pipefail

cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --bin nomad-spec
cargo bench --bench analyze -- --generate "$work/monorepo"

for run in 1 2 3; do
  /usr/bin/time -v "$target/release/nomad-spec" analyze --path "$work/monorepo" --format json \
    >"$work/analysis.json" 2>"$work/time.txt" || { cat "$work/time.txt"; exit 1; }
  wall="$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk '{print $NF}')"
  peak="$(grep 'Maximum resident set size' "$work/time.txt" | awk '{print $NF}')"
  echo "run $run: wall ${wall}, peak RSS ${peak} KiB"
done
if command -v jq >/dev/null; then
  echo "services found: $(jq '.services | length' "$work/analysis.json"), notes: $(jq '.notes | length' "$work/analysis.json")"
fi
