#!/usr/bin/env bash
# The portable release of ferry: x86_64 Linux, running on glibc 2.17 and later (RHEL 7 and 8,
# their rebuilds, Kylin V10, openEuler 20.03, ...). Built with cargo-zigbuild, which links
# against glibc 2.17's symbol versions through zig's linker (docs/dependencies.md), with the
# `dist` profile (no cross-crate LTO, 16 codegen units, debug info stripped, symbols kept;
# docs/testing.md says why).
#
#   scripts/release.sh --key KEY.key [--password-file FILE]
#   scripts/release.sh --tools-only      # install zig and cargo-zigbuild, build nothing
#
# Builds in $CARGO_TARGET_DIR (default target/). Writes dist/ferry-VERSION-x86_64-linux,
# dist/SHA256SUMS and dist/SHA256SUMS.minisig (signed with KEY by the minisign CLI; an
# encrypted key asks for its password unless --password-file).
set -euo pipefail
cd "$(dirname "$0")/.."

key=
password_file=
tools_only=false
while (($#)); do
  case "$1" in
  --tools-only) tools_only=true; shift ;;
  --key) key=${2:?--key needs a file}; shift 2 ;;
  --password-file) password_file=${2:?--password-file needs a file}; shift 2 ;;
  *) echo "usage: scripts/release.sh --key KEY.key [--password-file FILE]" >&2; exit 2 ;;
  esac
done
if [[ $tools_only == false ]]; then
  [[ -n "$key" ]] || { echo "usage: scripts/release.sh --key KEY.key [--password-file FILE]" >&2; exit 2; }
  [[ -f "$key" ]] || { echo "release: no key at $key (make one with: ferry key generate -o NAME)" >&2; exit 2; }
fi

# zig and cargo-zigbuild from their PyPI packages, pinned, in a virtual environment of their own.
tools=target/release-tools
if [[ ! -x "$tools/bin/cargo-zigbuild" ]]; then
  echo "release: installing zig and cargo-zigbuild (PyPI) into $tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q ziglang==0.15.2 cargo-zigbuild==0.24.1
fi
export PATH="$PWD/$tools/bin:$PATH"
[[ $tools_only == false ]] || exit 0

target=x86_64-unknown-linux-gnu
# The release is one static-zstd binary whatever the caller's environment says: zstd's C is
# compiled in, never taken from the build machine's libzstd (scripts/test.sh sets this for
# its own test build).
unset ZSTD_SYS_USE_PKG_CONFIG
cargo zigbuild --locked --profile dist --target "$target.2.17" -p ferry --timings
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name="ferry-$version-x86_64-linux"
mkdir -p dist
rm -f "dist/$name" dist/SHA256SUMS dist/SHA256SUMS.minisig
install -m 0755 "${CARGO_TARGET_DIR:-target}/$target/dist/ferry" "dist/$name"
(cd dist && sha256sum "$name" >SHA256SUMS)
if [[ -n "$password_file" ]]; then
  minisign -S -s "$key" -m dist/SHA256SUMS -t "ferry $version release" <"$password_file" >/dev/null
else
  minisign -S -s "$key" -m dist/SHA256SUMS -t "ferry $version release"
fi
echo "release: dist/$name ($(stat -c %s "dist/$name") bytes), dist/SHA256SUMS, dist/SHA256SUMS.minisig"
