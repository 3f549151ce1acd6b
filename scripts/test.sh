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
cargo test --workspace --locked
