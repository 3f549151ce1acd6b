#!/usr/bin/env bash
# The benchmark dataset, built with umoci and buildah from local bytes (nothing is downloaded),
# cached under OUT by a stamp that changes when this script changes.
#
#   testdata/bench-dataset.sh OUT
#
# OUT/main     22 images, tags img1..img22. Each image is a shared base layer (amd64: real
#              shared libraries of this machine, ~150 MB before gzip; arm64: 60 MiB of
#              incompressible bytes standing in for arm64 libraries) plus an app layer of its own
#              (30 to 119 MiB, 80 % incompressible, 20 % base64 text). umoci gzips every layer.
# OUT/multi    img1..img6 again, each as an OCI index of linux/amd64 and linux/arm64 (buildah
#              manifest push --all): these six images carry 2 platforms.
# OUT/many     tags many1..many10: 98 layers of one small file each, 1000 blobs in all with the
#              configs and manifests; and tag tiny: one small layer.
# OUT/sizes    what was built: gzip layer bytes in total, image and blob counts.
set -euo pipefail
out=${1:?usage: bench-dataset.sh OUT}
stamp="$out/.stamp"
want="bench dataset v1" # change when the recipe changes
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
echo "bench-dataset: building in $out (a few minutes, once)" >&2
rm -rf "$out"
mkdir -p "$out/work"
work=$out/work
export SOURCE_DATE_EPOCH=1700000000
IMAGES=22
MULTI=6

# layer_tar NAME RANDOM_MIB TEXT_MIB: an uncompressed tar of one directory with those bytes
layer_tar() {
  local dir="$work/$1"
  mkdir -p "$dir/opt/app"
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$dir/opt/app/data.bin"
  head -c "$(($3 * 1024 * 768))" /dev/urandom | base64 -w 76 >"$dir/opt/app/data.txt"
  tar -C "$dir" -cf "$work/$1.tar" .
  rm -rf "$dir"
}

# image LAYOUT BASE_TAG NEW_TAG ARCH LAYER_TAR: the base plus one layer, as NEW_TAG
image() {
  umoci config --image "$1:$2" --tag "$3" --architecture "$4" --config.label "bench.image=$3" >/dev/null
  umoci raw add-layer --image "$1:$3" "$5" >/dev/null
  rm -f "$5"
}

main=$out/main
umoci init --layout "$main"
for arch in amd64 arm64; do
  umoci new --image "$main:base-$arch" >/dev/null
  umoci config --image "$main:base-$arch" --os linux --architecture "$arch" --config.cmd /opt/app/run >/dev/null
done
mkdir -p "$work/base-amd64/usr/lib"
total=0
while IFS= read -r -d '' file; do
  cp -a "$file" "$work/base-amd64/usr/lib/"
  total=$((total + $(stat -c %s "$file")))
  ((total > 150 * 1024 * 1024)) && break
done < <(find /usr/lib/x86_64-linux-gnu /usr/lib -maxdepth 1 -type f -name '*.so*' -print0 | sort -z)
tar -C "$work/base-amd64" -cf "$work/base-amd64.tar" . && rm -rf "$work/base-amd64"
umoci raw add-layer --image "$main:base-amd64" "$work/base-amd64.tar" >/dev/null
layer_tar base-arm64 60 0
umoci raw add-layer --image "$main:base-arm64" "$work/base-arm64.tar" >/dev/null
rm -f "$work"/base-*.tar

for i in $(seq "$IMAGES"); do
  mib=$((30 + (i * 37) % 90))
  layer_tar "app$i-amd64" $((mib * 4 / 5)) $((mib / 5))
  if ((i <= MULTI)); then
    image "$main" base-amd64 "img$i-amd64" amd64 "$work/app$i-amd64.tar"
    layer_tar "app$i-arm64" $((mib * 4 / 5)) $((mib / 5))
    image "$main" base-arm64 "img$i-arm64" arm64 "$work/app$i-arm64.tar"
  else
    image "$main" base-amd64 "img$i" amd64 "$work/app$i-amd64.tar"
  fi
done

storage=(--root "$work/buildah-root" --runroot "$work/buildah-run" --storage-driver vfs)
for i in $(seq "$MULTI"); do
  buildah "${storage[@]}" manifest create "list$i" >/dev/null
  for arch in amd64 arm64; do
    buildah "${storage[@]}" manifest add --os linux --arch "$arch" "list$i" "oci:$main:img$i-$arch" >/dev/null
  done
  buildah "${storage[@]}" manifest push --all --format oci "list$i" "oci:$out/multi:img$i" >/dev/null 2>&1
  buildah "${storage[@]}" manifest rm "list$i" >/dev/null
done
rm -rf "$work/buildah-root" "$work/buildah-run" 2>/dev/null || true

many=$out/many
umoci init --layout "$many"
small_layer() {
  mkdir -p "$work/small/etc/app"
  head -c 2048 /dev/urandom | base64 >"$work/small/etc/app/$1.conf"
  tar -C "$work/small" -cf "$work/small.tar" . && rm -rf "$work/small"
  umoci raw add-layer --image "$many:$2" "$work/small.tar" >/dev/null
}
for j in $(seq 10) tiny; do
  tag=many$j
  [[ $j == tiny ]] && tag=tiny
  umoci new --image "$many:$tag" >/dev/null
  umoci config --image "$many:$tag" --os linux --architecture amd64 --config.cmd /bin/app >/dev/null
  layers=98
  [[ $j == tiny ]] && layers=1
  for k in $(seq "$layers"); do small_layer "$j-$k" "$tag"; done
done
umoci gc --layout "$main"
umoci gc --layout "$many"

layer_bytes=$(find "$main/blobs" "$out/multi/blobs" -type f -size +1M -printf '%s %f\n' | sort -u -k2 |
  awk '{s += $1} END {printf "%.0f\n", s}')
{
  echo "images: $IMAGES ($MULTI of them for linux/amd64 and linux/arm64)"
  echo "gzip layer bytes (unique): $layer_bytes"
  echo "many: $(find "$many/blobs" -type f | wc -l) blobs"
} >"$out/sizes"
rm -rf "$work"
echo "$want" >"$stamp"
cat "$out/sizes" >&2
