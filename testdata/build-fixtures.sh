#!/usr/bin/env bash
# Build the test fixtures with real tools (umoci, buildah, helm) from files on this machine.
# Nothing is downloaded. Output: $FERRY_FIXTURES (default target/fixtures), cached by a stamp
# that changes when this script changes.
#
#   images/hello        tag 1.0: a small single-platform image (linux/amd64)
#   images/multiarch    tag 1.0: an OCI index for linux/amd64 and linux/arm64 (buildah manifest)
#   images/big          tag 1.0: an image of realistic size (>= 50 MB compressed, real files)
#   images/shared       tags app1, app2: two images sharing one base layer
#   images/evolving     tags v1, v2: a ~20 MB shared base, a small app layer that v2 changes
#   charts/demo         a chart directory (helm create)
#   charts/other-0.1.0.tgz  a packaged chart (helm create + helm package)
#   charts/imaged-0.1.0.tgz a chart whose values name images (registry/repository map, plain string)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${FERRY_FIXTURES:-$here/../target/fixtures}
stamp="$out/.stamp"
want=$(sha256sum "$0" | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "fixtures up to date in $out"
  exit 0
fi
rm -rf "$out"
mkdir -p "$out/images" "$out/charts" "$out/work"
work="$out/work"
export SOURCE_DATE_EPOCH=1700000000

# new_image LAYOUT TAG ARCH: an empty image with the given architecture
new_image() {
  [[ -d "$1" ]] || umoci init --layout "$1"
  umoci new --image "$1:$2"
  umoci config --image "$1:$2" --os linux --architecture "$3" --config.cmd /bin/app
}

# add_layer LAYOUT TAG NEW_TAG SOURCE...: unpack, copy real files in, repack as NEW_TAG
add_layer() {
  local layout=$1 tag=$2 new_tag=$3
  shift 3
  local bundle="$work/bundle-$RANDOM$RANDOM"
  umoci unpack --rootless --image "$layout:$tag" "$bundle" >/dev/null
  for source in "$@"; do
    mkdir -p "$bundle/rootfs/$(dirname "$source")"
    cp -a "$source" "$bundle/rootfs/$source"
  done
  umoci repack --image "$layout:$new_tag" "$bundle" >/dev/null
  rm -rf "$bundle"
}

echo "building images/hello"
new_image "$out/images/hello" 1.0 amd64
add_layer "$out/images/hello" 1.0 1.0 /etc/os-release /usr/bin/true
umoci gc --layout "$out/images/hello"

echo "building images/multiarch (buildah manifest)"
single="$work/single"
new_image "$single" amd64 amd64
add_layer "$single" amd64 amd64 /etc/os-release /usr/bin/env
new_image "$single" arm64 arm64
add_layer "$single" arm64 arm64 /etc/os-release /usr/bin/ls
storage=(--root "$work/buildah-root" --runroot "$work/buildah-run" --storage-driver vfs)
buildah "${storage[@]}" manifest create multiarch-list >/dev/null
buildah "${storage[@]}" manifest add --os linux --arch amd64 multiarch-list "oci:$single:amd64" >/dev/null
buildah "${storage[@]}" manifest add --os linux --arch arm64 multiarch-list "oci:$single:arm64" >/dev/null
buildah "${storage[@]}" manifest push --all --format oci multiarch-list "oci:$out/images/multiarch:1.0" >/dev/null
buildah "${storage[@]}" manifest rm multiarch-list >/dev/null || true
rm -rf "$work/buildah-root" "$work/buildah-run" 2>/dev/null || true

echo "building images/big (>= 50 MB compressed, real files)"
big_files=()
total=0
while IFS= read -r -d '' file; do
  big_files+=("$file")
  total=$((total + $(stat -c %s "$file")))
  ((total > 150 * 1024 * 1024)) && break
done < <(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name '*.so*' -print0 | sort -z)
new_image "$out/images/big" 1.0 amd64
add_layer "$out/images/big" 1.0 1.0 "${big_files[@]}"
umoci gc --layout "$out/images/big"

echo "building images/shared (two images, one base layer)"
shared="$out/images/shared"
new_image "$shared" base amd64
add_layer "$shared" base base /etc/os-release /usr/bin/cat /usr/bin/sort
add_layer "$shared" base app1 /usr/bin/head
add_layer "$shared" base app2 /usr/bin/tail
umoci rm --image "$shared:base"
umoci gc --layout "$shared"

echo "building images/evolving (v1 and v2 share a large base; v2 changes the app layer)"
evolving="$out/images/evolving"
evolving_base=()
total=0
while IFS= read -r -d '' file; do
  evolving_base+=("$file")
  total=$((total + $(stat -c %s "$file")))
  ((total > 20 * 1024 * 1024)) && break
done < <(find /usr/bin -maxdepth 1 -type f -size +100k -print0 | sort -z)
new_image "$evolving" base amd64
add_layer "$evolving" base base "${evolving_base[@]}"
add_layer "$evolving" base v1 /usr/bin/head /etc/os-release
add_layer "$evolving" base v2 /usr/bin/tail /etc/debian_version
umoci rm --image "$evolving:base"
umoci gc --layout "$evolving"

echo "building charts (helm create, helm package)"
(cd "$out/charts" && helm create demo >/dev/null && helm create other >/dev/null && helm package other >/dev/null && rm -rf other)

echo "building charts/imaged-0.1.0.tgz (images in its values: a registry/repository map and a plain string)"
imaged="$work/imaged"
mkdir -p "$imaged/templates"
cat >"$imaged/Chart.yaml" <<'YAML'
apiVersion: v2
name: imaged
version: 0.1.0
appVersion: "1.0"
YAML
cat >"$imaged/values.yaml" <<'YAML'
global:
  imageRegistry: ""
replicaCount: 1
image:
  registry: docker.io
  repository: library/hello
  tag: "1.0"
sidecar:
  image: quay.io/apps/app1:1.0
YAML
cat >"$imaged/templates/deployment.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-imaged
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: imaged}
  template:
    metadata:
      labels: {app: imaged}
    spec:
      containers:
        - name: app
          image: "{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        - name: sidecar
          image: "{{ .Values.sidecar.image }}"
YAML
(cd "$out/charts" && helm package "$imaged" >/dev/null)

rm -rf "$work"
echo "$want" >"$stamp"
echo "fixtures built in $out"
