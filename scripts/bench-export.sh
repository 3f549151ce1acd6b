#!/usr/bin/env bash
# Export benchmark, side by side in one run (medians of RUNS runs each):
#   ferry export          from a loopback registry, cold cache, into a bundle
#   skopeo pipeline       skopeo copy every image into one OCI layout, then tar --zstd
#   floor                 cat + sha256sum of the same blobs
# Dataset (built once, cached in .work/bench-export): IMAGES images, each one gzip layer of
# LAYER_MIB of incompressible data (>= 1 GB in total by default), built with umoci.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
IMAGES=${IMAGES:-8}
LAYER_MIB=${LAYER_MIB:-130}

cargo build --release --locked -q
ferry=$PWD/target/release/ferry
work=$PWD/.work/bench-export
data=$work/data
mkdir -p "$work"

if [[ ! -f "$data/.done-$IMAGES-$LAYER_MIB" ]]; then
  echo "building the dataset: $IMAGES images x $LAYER_MIB MiB gzip layers"
  rm -rf "$data" && mkdir -p "$data"
  for i in $(seq "$IMAGES"); do
    umoci init --layout "$data/img$i" >/dev/null
    umoci new --image "$data/img$i:1.0" >/dev/null
    umoci config --image "$data/img$i:1.0" --os linux --architecture amd64 >/dev/null
    umoci unpack --rootless --image "$data/img$i:1.0" "$data/b$i" >/dev/null
    head -c "$((LAYER_MIB * 1024 * 1024))" /dev/urandom >"$data/b$i/rootfs/payload.bin"
    umoci repack --image "$data/img$i:1.0" "$data/b$i" >/dev/null
    rm -rf "$data/b$i"
  done
  touch "$data/.done-$IMAGES-$LAYER_MIB"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
registry_dir=$work/registry
rm -rf "$registry_dir"
address=$(bash testdata/registry.sh start "$registry_dir" "$port")
trap 'bash testdata/registry.sh stop "$registry_dir"' EXIT
{
  echo "apiVersion: ferry/v1alpha1"
  echo "kind: Manifest"
  echo "metadata: {name: bench, version: '1'}"
  echo "spec:"
  echo "  images:"
  for i in $(seq "$IMAGES"); do
    skopeo copy -q --dest-tls-verify=false "oci:$data/img$i:1.0" "docker://$address/bench/img$i:1.0"
    echo "    - $address/bench/img$i:1.0"
  done
} >"$work/m.yaml"

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ferry_export() {
  rm -rf "$work/cache" "$work/out.tar.zst"
  "$ferry" export -m "$work/m.yaml" -o "$work/out.tar.zst" --unsigned --cache-dir "$work/cache" --plain-http "$address"
}
skopeo_pipeline() {
  rm -rf "$work/layout" "$work/skopeo.tar.zst"
  for i in $(seq "$IMAGES"); do
    skopeo copy -q --src-tls-verify=false "docker://$address/bench/img$i:1.0" "oci:$work/layout:img$i"
  done
  tar --zstd -cf "$work/skopeo.tar.zst" -C "$work/layout" .
}
floor() { cat "$work/layout"/blobs/sha256/* | sha256sum; }

ferry_t=() skopeo_t=() floor_t=() rss=()
for _ in $(seq "$RUNS"); do
  ferry_t+=("$(seconds ferry_export)")
  rm -rf "$work/cache"
  rss+=("$(/usr/bin/time -v "$ferry" export -m "$work/m.yaml" -o "$work/out.tar.zst" --unsigned --cache-dir "$work/cache" --plain-http "$address" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}')")
  skopeo_t+=("$(seconds skopeo_pipeline)")
  cat "$work/layout"/blobs/sha256/* >/dev/null
  floor_t+=("$(seconds floor)")
done
f=$(printf '%s\n' "${ferry_t[@]}" | median)
s=$(printf '%s\n' "${skopeo_t[@]}" | median)
z=$(printf '%s\n' "${floor_t[@]}" | median)
r=$(printf '%s\n' "${rss[@]}" | median)
bytes=$(du -cb "$work/layout"/blobs/sha256/* | tail -1 | cut -f1)
printf 'dataset: %s images, %s bytes of blobs; %s runs each (median)\n' "$IMAGES" "$bytes" "$RUNS"
printf 'ferry export (cold cache):     %6.2f s  %6.0f MB/s  peak RSS %s kB\n' "$f" "$(echo "$bytes / $f / 1000000" | bc -l)" "$r"
printf 'skopeo copy + tar --zstd:      %6.2f s  %6.0f MB/s\n' "$s" "$(echo "$bytes / $s / 1000000" | bc -l)"
printf 'floor, cat | sha256sum:        %6.2f s  %6.0f MB/s\n' "$z" "$(echo "$bytes / $z / 1000000" | bc -l)"
printf 'time ferry / skopeo pipeline:  %6.2f   (target <= 0.5)\n' "$(echo "$f / $s" | bc -l)"
printf 'throughput ferry / floor:      %6.2f   (target >= 0.7)\n' "$(echo "$z / $f" | bc -l)"
