#!/usr/bin/env bash
# Side by side, in one run: `ferry verify` against its floor, `zstd -d | sha256sum`, on the same
# 1 GiB bundle (a synthetic incompressible gzip-like layer, so it is stored, as real layers are).
# Prints the median of RUNS runs of each and the ratio. The full suite comes with scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}

cargo build --release --locked -q
ferry=$PWD/target/release/ferry
work=.work/bench-verify
mkdir -p "$work"
if [[ ! -f "$work/bundle.tar.zst" ]]; then
  { printf '\x1f\x8b\x08\x00'; head -c "$((SIZE_MIB * 1024 * 1024 - 4))" /dev/urandom; } >"$work/layer.bin"
  cat >"$work/m.yaml" <<'YAML'
apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {name: bench, version: "1"}
spec:
  files:
    - {name: layer, path: layer.bin}
YAML
  "$ferry" key generate -o "$work/k" --unencrypted --force >/dev/null
  "$ferry" export -m "$work/m.yaml" -o "$work/bundle.tar.zst" --key "$work/k.key" >/dev/null
fi
bundle=$work/bundle.tar.zst
cat "$bundle" >/dev/null # warm the page cache for both

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc -l; }

ferry_times=() floor_times=() openssl_times=()
for _ in $(seq "$RUNS"); do
  ferry_times+=("$(seconds "$ferry" verify "$bundle" --trusted-key "$work/k.pub")")
  floor_times+=("$(seconds sh -c "zstd -dc '$bundle' | sha256sum")")
  openssl_times+=("$(seconds sh -c "zstd -dc '$bundle' | openssl dgst -sha256")")
done
f=$(printf '%s\n' "${ferry_times[@]}" | median)
z=$(printf '%s\n' "${floor_times[@]}" | median)
o=$(printf '%s\n' "${openssl_times[@]}" | median)
bytes=$(stat -c %s "$bundle")
printf 'bundle: %s bytes, %s runs each (median)\n' "$bytes" "$RUNS"
printf 'ferry verify:            %6.2f s  %6.0f MB/s\n' "$f" "$(echo "$bytes / $f / 1000000" | bc -l)"
printf 'zstd -d | sha256sum:     %6.2f s  %6.0f MB/s\n' "$z" "$(echo "$bytes / $z / 1000000" | bc -l)"
printf 'zstd -d | openssl sha256:%6.2f s  %6.0f MB/s\n' "$o" "$(echo "$bytes / $o / 1000000" | bc -l)"
printf 'ratio ferry / (zstd -d | sha256sum):       %5.2f\n' "$(echo "$f / $z" | bc -l)"
printf 'ratio ferry / (zstd -d | openssl sha256):  %5.2f\n' "$(echo "$f / $o" | bc -l)"
