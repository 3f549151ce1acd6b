#!/usr/bin/env bash
# ferry's benchmark suite: every pairing side by side with a real peer in one run, medians of
# RUNS runs (default 3), peak RSS from /usr/bin/time. Run it as root after scripts/test.sh's
# setup (the push, no-op and node sections use the test bed).
#
#   sudo scripts/bench.sh [SECTION...]     SECTION: export verify parts serve push noop nodes memory
#                                          (default: all but memory, in that order)
#   FERRY_BIN=dist/ferry-VERSION-x86_64-linux scripts/bench.sh export verify   (the release)
#
# memory exports, verifies and installs a 1 GiB and a 10 GiB bundle of synthetic layers and
# reports peak RSS growth; it needs about 35 GB of free disk and half an hour.
#
# The dataset (testdata/bench-dataset.sh: 22 images, 6 of them for 2 platforms, > 2 GB of gzip
# layers; 1000 small blobs) is built once under .work/bench and served by a loopback
# distribution registry. The results table is printed and kept in .work/bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
sections=("$@")
((${#sections[@]})) || sections=(export verify parts serve push noop nodes)
needs_root=0
for s in "${sections[@]}"; do
  case "$s" in
  export | verify | parts | serve) ;;
  push | noop | nodes | memory) needs_root=1 ;;
  *) echo "unknown section '$s': export verify parts serve push noop nodes memory" >&2; exit 2 ;;
  esac
done
if ((needs_root)) && [[ $(id -u) -ne 0 ]]; then
  echo "the push, noop and nodes sections need root (the test bed); run with sudo" >&2
  exit 1
fi

# FERRY_BIN=PATH measures that binary instead (the portable release: dist/ferry-*).
if [[ -n "${FERRY_BIN:-}" ]]; then
  export ferry
  ferry=$(realpath "$FERRY_BIN")
else
  cargo build --release --locked -q
  export ferry=$PWD/target/release/ferry
fi
export work=$PWD/.work/bench
mkdir -p "$work"
bash testdata/bench-dataset.sh "$work/dataset"
data=$work/dataset
results=$work/results.md
: >"$results"
cleanups=()
cleanup() { for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done; }
trap cleanup EXIT

# --- measuring ---------------------------------------------------------------------------------
# measure FUNCTION: runs an exported function once, prints "seconds peak_rss_kB" (the largest
# process of the run). A failure stops the suite with the command's own error output. Each run
# starts with nothing left to write back from the one before (sync, not timed), so a run does not
# pay for the gigabytes its predecessor wrote.
measure() {
  sync
  if ! /usr/bin/time -o "$work/time.out" -f '%e %M' bash -c "$1" >/dev/null 2>"$work/last.err"; then
    echo "bench: '$1' failed:" >&2
    tail -n 20 "$work/last.err" >&2
    exit 1
  fi
  tail -n 1 "$work/time.out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# column N of the lines in "$@" (N=1 seconds, N=2 RSS), median
med() {
  local n=$1
  shift
  printf '%s\n' "$@" | awk -v n="$n" '{print $n}' | median
}
mib() { echo "scale=0; $1 / 1024" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
row() {
  local IFS=$'\x1f' line
  line="$*"
  printf '| %s |\n' "${line//$'\x1f'/ | }" | tee -a "$results"
}

# pair LABEL FERRY_FN PEER_LABEL PEER_FN [PREPARE_FN]: RUNS alternating runs of both, one row
pair() {
  local label=$1 ferry_fn=$2 peer_label=$3 peer_fn=$4 prepare=${5:-true} f=() p=()
  for _ in $(seq "$RUNS"); do
    $prepare
    f+=("$(measure "$ferry_fn")")
    $prepare
    p+=("$(measure "$peer_fn")")
  done
  local fs ps
  fs=$(med 1 "${f[@]}") ps=$(med 1 "${p[@]}")
  row "$label" "$fs s" "$(mib "$(med 2 "${f[@]}")") MiB" "$peer_label" "$ps s" \
    "$(mib "$(med 2 "${p[@]}")") MiB" "**$(ratio "$fs" "$ps")**"
}
header() {
  {
    echo
    echo "### $1"
    echo
    echo "| ferry | median | peak RSS | peer | median | peer peak RSS | time ferry / peer |"
    echo "|---|---|---|---|---|---|---|"
  } | tee -a "$results"
}

# --- the source registry -----------------------------------------------------------------------
registry_dir=$work/registry
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$registry_dir"
rm -f "$registry_dir/config.yml"
export source_registry
source_registry=$(bash testdata/registry.sh start "$registry_dir" "$port")
cleanups+=("bash testdata/registry.sh stop '$registry_dir'")
if [[ "$(cat "$registry_dir/.loaded" 2>/dev/null)" != "$(cat "$data/.stamp")" ]]; then
  echo "bench: loading the dataset into the source registry" >&2
  for i in $(seq 22); do
    if ((i <= 6)); then
      skopeo copy -q --all --dest-tls-verify=false "oci:$data/multi:img$i" "docker://$source_registry/bench/img$i:1.0"
    else
      skopeo copy -q --dest-tls-verify=false "oci:$data/main:img$i" "docker://$source_registry/bench/img$i:1.0"
    fi
  done
  for tag in $(seq -f 'many%g' 10) tiny; do
    skopeo copy -q --dest-tls-verify=false "oci:$data/many:$tag" "docker://$source_registry/bench/$tag:1.0"
  done
  cat "$data/.stamp" >"$registry_dir/.loaded"
fi

export key=$work/k
[[ -f $key.key ]] || "$ferry" key generate -o "$key" --unencrypted --force >/dev/null
registry_file="    - {name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}"
{
  echo "apiVersion: ferry/v1alpha1"
  echo "kind: Manifest"
  echo "metadata: {name: bench, version: '1'}"
  echo "spec:"
  echo "  images:"
  for i in $(seq 22); do
    if ((i <= 6)); then
      echo "    - {name: $source_registry/bench/img$i:1.0, platforms: [linux/amd64, linux/arm64]}"
    else
      echo "    - $source_registry/bench/img$i:1.0"
    fi
  done
  echo "  files:"
  echo "$registry_file"
} >"$work/main.yaml"
export bundle=$work/bundle.tar.zst

{
  echo "# ferry benchmark results"
  echo
  echo "$(date -u +%F), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)."
  echo "Command: \`sudo scripts/bench.sh ${sections[*]}\`, medians of $RUNS runs each. Dataset:"
  sed 's/^/- /' "$data/sizes"
} | tee -a "$results"

# --- sections ----------------------------------------------------------------------------------
ferry_export() {
  rm -rf "$work/cache" "$bundle"
  "$ferry" export -m "$work/main.yaml" -o "$bundle" --key "$key.key" --cache-dir "$work/cache" \
    --plain-http "$source_registry"
}
ferry_export_no_sbom() {
  rm -rf "$work/cache" "$work/no-sbom.tar.zst"
  "$ferry" export -m "$work/main.yaml" -o "$work/no-sbom.tar.zst" --key "$key.key" \
    --cache-dir "$work/cache" --plain-http "$source_registry" --no-sbom
}
skopeo_pipeline() {
  rm -rf "$work/layout" "$work/skopeo.tar.zst"
  for i in $(seq 22); do
    all=()
    ((i <= 6)) && all=(--all)
    skopeo copy -q "${all[@]}" --src-tls-verify=false "docker://$source_registry/bench/img$i:1.0" "oci:$work/layout:img$i"
  done
  tar --zstd -cf "$work/skopeo.tar.zst" -C "$work/layout" . -C /usr/bin docker-registry
}
floor() { cat "$work/layout"/blobs/sha256/* /usr/bin/docker-registry | sha256sum; }
export -f ferry_export ferry_export_no_sbom skopeo_pipeline floor

section_export() {
  header "export: 22 images from a loopback registry into one signed bundle"
  local f=() s=() z=() n=()
  for i in $(seq "$RUNS"); do
    # the two ferry exports take turns going first, so neither always follows the peers' runs
    if ((i % 2)); then
      f+=("$(measure ferry_export)")
      n+=("$(measure ferry_export_no_sbom)")
    else
      n+=("$(measure ferry_export_no_sbom)")
      f+=("$(measure ferry_export)")
    fi
    s+=("$(measure skopeo_pipeline)")
    cat "$work/layout"/blobs/sha256/* >/dev/null
    z+=("$(measure floor)")
  done
  local fs ss zs ns
  fs=$(med 1 "${f[@]}") ss=$(med 1 "${s[@]}") zs=$(med 1 "${z[@]}") ns=$(med 1 "${n[@]}")
  row "export (cold cache), SBOMs made (the default)" "$fs s" "$(mib "$(med 2 "${f[@]}")") MiB" \
    "ferry export --no-sbom" "$ns s" "$(mib "$(med 2 "${n[@]}")") MiB" "**$(ratio "$fs" "$ns")**"
  row "export (cold cache)" "$fs s" "$(mib "$(med 2 "${f[@]}")") MiB" "skopeo copy to an OCI layout + tar --zstd" \
    "$ss s" "$(mib "$(med 2 "${s[@]}")") MiB" "**$(ratio "$fs" "$ss")**"
  row "export (cold cache)" "$fs s" "$(mib "$(med 2 "${f[@]}")") MiB" "floor: cat + sha256sum of the same blobs" \
    "$zs s" "$(mib "$(med 2 "${z[@]}")") MiB" "**$(ratio "$fs" "$zs")**"
  local pairs=() k
  for k in "${!f[@]}"; do pairs+=("$(ratio "${f[k]%% *}" "${n[k]%% *}")"); done
  echo "runs (s): export $(printf '%s\n' "${f[@]}" | awk '{printf "%s ", $1}')| --no-sbom $(printf '%s\n' "${n[@]}" | awk '{printf "%s ", $1}')| each pair's ratio ${pairs[*]} (median $(printf '%s\n' "${pairs[@]}" | median))" | tee -a "$results"
  echo "bundle: $(stat -c %s "$bundle") bytes; the skopeo pipeline's tar: $(stat -c %s "$work/skopeo.tar.zst") bytes" | tee -a "$results"
}

ferry_verify() { "$ferry" verify "$bundle" --trusted-key "$key.pub"; }
zstd_sha256sum() { zstd -dc "$bundle" | sha256sum; }
warm_bundle() { cat "$bundle" >/dev/null; }
export -f ferry_verify zstd_sha256sum
section_verify() {
  [[ -f $bundle ]] || measure ferry_export >/dev/null
  header "verify: signature, every frame and digest, streaming"
  pair "verify" ferry_verify 'zstd -d \| sha256sum' zstd_sha256sum warm_bundle
}

# serve: skopeo copy --all of every image, from `ferry serve` over the bundle against the same
# from the distribution registry that holds them (the source registry), into an OCI layout.
copy_all_from() {
  local from=$1 prefix=$2
  rm -rf "$work/served"
  for i in $(seq 22); do
    skopeo copy -q --all --src-tls-verify=false "docker://$from/${prefix}bench/img$i:1.0" "oci:$work/served:img$i" || return 1
  done
}
from_ferry_serve() { copy_all_from "$serve_address" "${source_registry/:/_}/"; }
from_registry() { copy_all_from "$source_registry" ""; }
export -f copy_all_from from_ferry_serve from_registry
section_serve() {
  # The bundle names the source registry by address: one from an earlier run names another port.
  if ! [[ -f $bundle ]] || ! "$ferry" inspect "$bundle" --trusted-key "$key.pub" | grep -qF "$source_registry/bench/img1:1.0"; then
    measure ferry_export >/dev/null
  fi
  header "serve: skopeo copy --all of the 22 images, from ferry serve over the bundle vs. from the registry"
  local port log
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  log=$work/serve.log
  /usr/bin/time -o "$work/serve.time" -f '%M' "$ferry" serve "$bundle" --listen "127.0.0.1:$port" \
    --trusted-key "$key.pub" >"$log" 2>&1 &
  local pid=$!
  cleanups+=("pkill -P $pid 2>/dev/null")
  for _ in $(seq 100); do grep -q serving "$log" && break; sleep 0.1; done
  export serve_address=127.0.0.1:$port
  pair "serve, skopeo copy --all" from_ferry_serve "the distribution registry, skopeo copy --all" from_registry
  pkill -TERM -P "$pid" 2>/dev/null || true # SIGINT is ignored in a background job
  wait "$pid" 2>/dev/null || true
  echo "ferry serve peak RSS over all runs: $(mib "$(tail -n 1 "$work/serve.time" 2>/dev/null || echo 0)") MiB (the copying client's is in the table)" | tee -a "$results"
}

ferry_split() { rm -rf "$work/parts"; "$ferry" split "$bundle" -o "$work/parts" --part-size 64M --repair 10 --key "$key.key"; }
peer_split() { rm -rf "$work/split" && mkdir -p "$work/split" && cd "$work/split" && split -b 64M "$bundle" p.; }
ferry_join() { rm -f "$work/joined.tar.zst"; "$ferry" join "$work/parts" -o "$work/joined.tar.zst" --trusted-key "$key.pub"; }
peer_join() { cat "$work/split"/p.* >"$work/cat.tar.zst"; }
export -f ferry_split peer_split ferry_join peer_join
settle() { sync; }
section_parts() {
  [[ -f $bundle ]] || measure ferry_export >/dev/null
  header "split into 64 MiB parts (+10 % repair) and join with 10 % of the data parts lost"
  pair "split --repair 10" ferry_split "split -b 64M" peer_split settle
  local j=() c=()
  for _ in $(seq "$RUNS"); do
    sync
    measure ferry_split >/dev/null
    local count
    count=$(find "$work/parts" -name 'bench-1.*-of-*.part' | wc -l)
    for i in $(seq 2 10 "$count"); do rm -f "$work/parts/bench-1.$i-of-$count.part"; done
    sync
    j+=("$(measure ferry_join)")
    cmp -s "$work/joined.tar.zst" "$bundle" || { echo "bench: join is not byte-identical" >&2; exit 1; }
    measure peer_split >/dev/null
    sync
    c+=("$(measure peer_join)")
  done
  local js cs
  js=$(med 1 "${j[@]}") cs=$(med 1 "${c[@]}")
  row "join, 10 % lost and rebuilt, verify included" "$js s" "$(mib "$(med 2 "${j[@]}")") MiB" "cat" "$cs s" \
    "$(mib "$(med 2 "${c[@]}")") MiB" "**$(ratio "$js" "$cs")**"
  rm -rf "$work/parts" "$work/split" "$work/joined.tar.zst" "$work/cat.tar.zst"
}

testbed_up() {
  [[ -n ${testbed_ready:-} ]] && return
  if [[ -z ${FERRY_TESTBED:-} || $(wc -l <"$FERRY_TESTBED/hosts") -lt 5 ]]; then
    if ip netns list 2>/dev/null | grep -q '^ferry-h1'; then
      echo "bench: a test bed is already up (the suite's, or another run's), and the benchmarks need" \
        "one of 5 hosts with the same host names; take it down (testdata/testbed.sh down DIR)," \
        "or point FERRY_TESTBED at a 5-host one" >&2
      exit 1
    fi
    bash testdata/testbed.sh up "$work/testbed" 5
    cleanups+=("bash testdata/testbed.sh down '$work/testbed'")
    FERRY_TESTBED=$work/testbed
  fi
  export identity=$FERRY_TESTBED/id_ed25519 known_hosts=$FERRY_TESTBED/known_hosts
  mapfile -t addresses < <(awk '{print $2}' "$FERRY_TESTBED/hosts")
  export h1=${addresses[0]}
  # Hosts as before a first install: install refuses a state directory not the hosts' own.
  bash testdata/testbed.sh reset "$FERRY_TESTBED"
  testbed_ready=1
}
ssh_to() {
  local address=$1
  shift
  ssh -i "$identity" -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes "root@$address" "$@"
}
# inventory NAME ROLES_OF_H1 [ROLES_OF_OTHERS COUNT]
inventory() {
  {
    echo "apiVersion: ferry/v1alpha1"
    echo "kind: Inventory"
    echo "metadata: {name: bench}"
    echo "spec:"
    echo "  ssh: {identityFiles: [$identity], knownHosts: $known_hosts, agent: false}"
    echo "  hosts:"
    echo "    - {name: h1, address: $h1, roles: [$2]}"
    for ((n = 2; n <= ${4:-1}; n++)); do
      echo "    - {name: h$n, address: ${addresses[n - 1]}, roles: [$3]}"
    done
    echo "  registry: {host: h1, dnsName: registry.bench.test}"
  } >"$work/$1.yaml"
}
install_onto() { "$ferry" install "$1" -i "$work/$2.yaml" --trusted-key "$key.pub" --state-dir "$work/state"; }
empty_registry() { ssh_to "$h1" 'systemctl stop ferry-registry ferry-registry-pull 2>/dev/null; rm -rf /var/lib/ferry/registry' || true; }
ferry_install() { install_onto "$bundle" push; }
ssh_cat() { ssh -i "$identity" -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes "root@$h1" 'cat > /dev/null' <"$bundle"; }
export -f install_onto ferry_install ssh_cat
empty_registry_warm() { empty_registry; cat "$bundle" >/dev/null; }

section_push() {
  [[ -f $bundle ]] || measure ferry_export >/dev/null
  testbed_up
  inventory push registry
  header "push: install onto a test host over SSH (registry emptied before every run)"
  pair "install (registry converged, every blob through the SSH tunnel)" ferry_install \
    "ssh host 'cat > /dev/null' < bundle" ssh_cat empty_registry_warm
  empty_registry
}

many_export() {
  {
    echo "apiVersion: ferry/v1alpha1"
    echo "kind: Manifest"
    echo "metadata: {name: many, version: '1'}"
    echo "spec:"
    echo "  images:"
    for j in $(seq 10); do echo "    - $source_registry/bench/many$j:1.0"; done
    echo "  files:"
    echo "$registry_file"
  } >"$work/many.yaml"
  "$ferry" export -m "$work/many.yaml" -o "$work/many.tar.zst" --key "$key.key" --cache-dir "$work/cache" \
    --plain-http "$source_registry" >/dev/null
}
noop_install() { install_onto "$work/many.tar.zst" push; }
export -f noop_install
section_noop() {
  testbed_up
  inventory push registry
  many_export
  local blobs
  blobs=$("$ferry" inspect "$work/many.tar.zst" --json --trusted-key "$key.pub" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["index"]["blobs"]))')
  empty_registry
  measure noop_install >/dev/null
  local t=()
  for _ in $(seq "$RUNS"); do t+=("$(measure noop_install)"); done
  {
    echo
    echo "### no-op re-install: $blobs blobs already in the registry"
    echo
    echo "| ferry | median | peak RSS |"
    echo "|---|---|---|"
  } | tee -a "$results"
  row "install again (connect, facts, HEAD checks, nothing sent)" "$(med 1 "${t[@]}") s" "$(mib "$(med 2 "${t[@]}")") MiB"
}

tiny_export() {
  {
    echo "apiVersion: ferry/v1alpha1"
    echo "kind: Manifest"
    echo "metadata: {name: tiny, version: '1'}"
    echo "spec:"
    echo "  images:"
    for name in docker.io/library/app quay.io/org/app registry.k8s.io/app ghcr.io/org/app; do
      echo "    - {name: '$name:1.0', from: '$source_registry/bench/tiny:1.0'}"
    done
    echo "  files:"
    echo "$registry_file"
  } >"$work/tiny.yaml"
  "$ferry" export -m "$work/tiny.yaml" -o "$work/tiny.tar.zst" --key "$key.key" --cache-dir "$work/cache" \
    --plain-http "$source_registry" >/dev/null
}
# What node preparation writes, removed so that every timed run prepares the nodes afresh.
unprepare_nodes() {
  for address in "${addresses[@]:0:5}"; do
    ssh_to "$address" 'rm -rf /etc/ferry/registry-ca.pem /usr/local/share/ca-certificates/ferry-registry.crt \
      /etc/containerd/certs.d /etc/rancher/k3s/registries.yaml && update-ca-certificates --fresh >/dev/null 2>&1' &
  done
  wait
}
nodes_one() { install_onto "$work/tiny.tar.zst" nodes1; }
nodes_five() { install_onto "$work/tiny.tar.zst" nodes5; }
export -f nodes_one nodes_five
section_nodes() {
  testbed_up
  tiny_export
  inventory nodes1 "registry, agent"
  inventory nodes5 "registry, agent" agent 5
  measure nodes_five >/dev/null
  header "node preparation (CA trust, hosts entry, certs.d mirrors for 4 upstreams, registries.yaml)"
  pair "install onto 5 nodes (registry and push converged)" nodes_five \
    "the same onto 1 node" nodes_one unprepare_nodes
}

# Synthetic images of GIB x 4 incompressible 256 MiB layers, in a registry of their own.
memory_dataset() {
  local gib=$1 layout=$work/memory/layout dir=$work/memory/layer
  rm -rf "$work/memory" && mkdir -p "$work/memory"
  umoci init --layout "$layout"
  memory_registry=$(bash testdata/registry.sh start "$work/memory/registry" "$port_memory")
  {
    echo "apiVersion: ferry/v1alpha1"
    echo "kind: Manifest"
    echo "metadata: {name: memory, version: '$gib'}"
    echo "spec:"
    echo "  images:"
  } >"$work/memory.yaml"
  for k in $(seq "$gib"); do
    umoci new --image "$layout:m$k" >/dev/null
    umoci config --image "$layout:m$k" --os linux --architecture amd64 >/dev/null
    for l in 1 2 3 4; do
      mkdir -p "$dir" && head -c $((256 * 1024 * 1024)) /dev/urandom >"$dir/data.bin"
      tar -C "$dir" -cf "$dir.tar" . && rm -rf "$dir"
      umoci raw add-layer --image "$layout:m$k" "$dir.tar" >/dev/null && rm -f "$dir.tar"
    done
    skopeo copy -q --dest-tls-verify=false "oci:$layout:m$k" "docker://$memory_registry/memory/m$k:1.0"
    umoci rm --image "$layout:m$k" && umoci gc --layout "$layout"
    echo "    - $memory_registry/memory/m$k:1.0" >>"$work/memory.yaml"
  done
  rm -rf "$layout"
  echo "  files:" >>"$work/memory.yaml"
  echo "$registry_file" >>"$work/memory.yaml"
}
memory_export() {
  rm -rf "$work/cache" "$bundle.memory"
  "$ferry" export -m "$work/memory.yaml" -o "$bundle.memory" --key "$key.key" --cache-dir "$work/cache" \
    --plain-http "$memory_registry"
}
memory_verify() { "$ferry" verify "$bundle.memory" --trusted-key "$key.pub"; }
memory_install() { install_onto "$bundle.memory" push; }
export -f memory_export memory_verify memory_install
section_memory() {
  testbed_up
  inventory push registry
  port_memory=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cleanups+=("bash testdata/registry.sh stop '$work/memory/registry'")
  {
    echo
    echo "### memory: peak RSS as the bundle grows (synthetic incompressible 256 MiB layers)"
    echo
    echo "| bundle | export | verify | install (push over SSH) |"
    echo "|---|---|---|---|"
  } | tee -a "$results"
  local gib first=()
  for gib in 1 10; do
    memory_dataset "$gib"
    export memory_registry
    local e=() v=() i=()
    for _ in $(seq "$RUNS"); do e+=("$(measure memory_export)"); done
    rm -rf "$work/cache"
    bash testdata/registry.sh stop "$work/memory/registry"
    rm -rf "$work/memory"
    for _ in $(seq "$RUNS"); do v+=("$(measure memory_verify)"); done
    for _ in $(seq "$RUNS"); do
      empty_registry
      i+=("$(measure memory_install)")
    done
    empty_registry
    local line=("$(stat -c %s "$bundle.memory") bytes")
    local n=0 column
    for column in e v i; do
      local -n runs=$column
      local kb
      kb=$(med 2 "${runs[@]}")
      if [[ $gib == 1 ]]; then
        first[n]=$kb
        line+=("$kb kB ($(med 1 "${runs[@]}") s)")
      else
        line+=("$kb kB ($(med 1 "${runs[@]}") s), **$(echo "scale=1; ($kb - ${first[n]}) * 100 / ${first[n]}" | bc -l | sed 's/^\./0./;s/^-\./-0./') %** growth")
      fi
      n=$((n + 1))
    done
    row "${line[@]}"
    rm -f "$bundle.memory"
  done
}

for s in "${sections[@]}"; do "section_$s"; done
echo
echo "results: $results"
