#!/usr/bin/env bash
# Runs one cargo-fuzz target for a fixed number of executions, its corpus seeded from testdata.
#
#   scripts/fuzz.sh TARGET [RUNS]      TARGET: bundle_reader | manifest_parser |
#                                              inventory_parser | parts_manifest | attachments |
#                                              trust_root | sbom_layers | sbom_golang | sbom_rpm
#
# RUNS defaults to 10 000 000. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`). The build has no sanitizer but keeps debug assertions,
# so integer overflow panics too: the targets are safe Rust, where a panic is what to find, and
# dropping AddressSanitizer doubles the rate on this machine kind. FUZZ_SANITIZER=address
# brings it back. The last lines of the log give the executions; a crash leaves its input in
# fuzz/artifacts/TARGET/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target=${1:?usage: scripts/fuzz.sh TARGET [RUNS]}
runs=${2:-10000000}
case "$target" in
  bundle_reader | attachments) max_len=65536 ;;
  manifest_parser | inventory_parser | parts_manifest | trust_root) max_len=8192 ;;
  sbom_layers | sbom_golang | sbom_rpm) max_len=65536 ;;
  *) echo "unknown fuzz target '$target'" >&2; exit 2 ;;
esac
mkdir -p "corpus/$target"
cp ../testdata/fuzz-seeds/"$target"/* "corpus/$target/"
exec cargo +nightly fuzz run --sanitizer "${FUZZ_SANITIZER:-none}" --debug-assertions "$target" \
  "corpus/$target" -- -runs="$runs" -max_len="$max_len" -timeout=30 -print_final_stats=1
