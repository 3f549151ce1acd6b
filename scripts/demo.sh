#!/usr/bin/env bash
# The whole pipeline on embedded defaults: build ferry, generate a signing key, export the demo
# manifest (manifests/demo.yaml) into a signed bundle, then verify and inspect it.
# Everything is written under .work/demo. Grows with each stage of ferry.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >/dev/null
bash testdata/build-fixtures.sh
cargo build --release --locked -q
ferry=$PWD/target/release/ferry

work=.work/demo
rm -rf "$work"
mkdir -p "$work"

echo "== ferry key generate"
"$ferry" key generate -o "$work/demo" --unencrypted

echo "== ferry export"
"$ferry" export -m manifests/demo.yaml -o "$work/demo.tar.zst" --key "$work/demo.key"

echo "== ferry verify"
"$ferry" verify "$work/demo.tar.zst" --trusted-key "$work/demo.pub"

echo "== ferry inspect"
"$ferry" inspect "$work/demo.tar.zst" --trusted-key "$work/demo.pub"
