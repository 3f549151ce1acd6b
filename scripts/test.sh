#!/usr/bin/env bash
# Install the test dependencies, build the fixtures, and run the whole suite (with lints).
# Under CI=true, tests that need the test bed fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash testdata/build-fixtures.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo build (fuzz targets compile as part of the workspace check)"
bash scripts/check-fuzz.sh
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line for the whole suite (cargo prints one per test binary, the last often empty).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
