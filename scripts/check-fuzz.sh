#!/usr/bin/env bash
# The fuzz targets must keep compiling. This checks them with the stable toolchain; running them
# needs nightly and cargo-fuzz (see docs/security.md, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
cargo check --bins --quiet
