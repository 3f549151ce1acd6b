#!/usr/bin/env bash
# How often one `ferry install` from a parts directory opens and reads each part file, counted
# with strace (openat, read, pread64 on the part files). The bundle carries the registry binary,
# the k3s stand-in, a 48 MiB airgap images file for every node, three images and a chart; the
# inventory is the 5-host test bed as a registry host, two k3s servers and two agents.
#
#   sudo scripts/part-reads.sh [FERRY_BINARY]      (default: target/debug/ferry)
#
# Needs the fixtures (testdata/build-fixtures.sh) and a test bed of at least 5 hosts
# ($FERRY_TESTBED; testdata/testbed.sh up DIR 5). Prints one table row; docs/performance.md
# records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ferry=$(realpath "${1:-target/debug/ferry}")
testbed=${FERRY_TESTBED:?bring up a 5-host test bed: testdata/testbed.sh up DIR 5, and set FERRY_TESTBED}
mapfile -t addresses < <(awk '{print $2}' "$testbed/hosts")
((${#addresses[@]} >= 5)) || { echo "the test bed has fewer than 5 hosts" >&2; exit 1; }
command -v strace >/dev/null || { echo "strace is missing (apt-get install strace)" >&2; exit 1; }
fixtures=$PWD/target/fixtures
work=$PWD/.work/part-reads
rm -rf "$work" && mkdir -p "$work"

"$ferry" key generate -o "$work/k" --unencrypted >/dev/null
head -c $((48 << 20)) /dev/urandom >"$work/k3s-airgap-images-amd64.tar"
cat >"$work/manifest.yaml" <<YAML
apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {name: reads, version: '1'}
spec:
  images:
    - {name: docker.io/library/hello:1.0, from: 'oci-layout:$fixtures/images/hello:1.0'}
    - {name: docker.io/example/big:1.0, from: 'oci-layout:$fixtures/images/big:1.0'}
    - {name: quay.io/apps/app1:1.0, from: 'oci-layout:$fixtures/images/shared:app1'}
  charts:
    - path: $fixtures/charts/imaged-0.1.0.tgz
  files:
    - {name: registry, path: /usr/bin/docker-registry, role: registry, mode: "0755", platform: linux/amd64}
    - {name: k3s, path: $PWD/testdata/k3s-standin.sh, role: k3s, mode: "0755", platform: linux/amd64}
    - {name: k3s-airgap-images-amd64.tar, path: $work/k3s-airgap-images-amd64.tar, role: airgap-images, platform: linux/amd64}
YAML
"$ferry" export -m "$work/manifest.yaml" -o "$work/bundle.tar.zst" --key "$work/k.key" >/dev/null
"$ferry" split "$work/bundle.tar.zst" -o "$work/parts" --part-size 8M --repair 10 --key "$work/k.key" >/dev/null
rm "$work/bundle.tar.zst"

cat >"$work/inventory.yaml" <<YAML
apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {name: reads}
spec:
  ssh: {identityFiles: [$testbed/id_ed25519], knownHosts: $testbed/known_hosts, agent: false}
  hosts:
    - {name: h1, address: ${addresses[0]}, roles: [registry]}
    - {name: h2, address: ${addresses[1]}, roles: [server]}
    - {name: h3, address: ${addresses[2]}, roles: [server]}
    - {name: h4, address: ${addresses[3]}, roles: [agent]}
    - {name: h5, address: ${addresses[4]}, roles: [agent]}
  registry: {host: h1, dnsName: registry.reads.test}
  cluster: {}
YAML
# Every host as if new: no registry data, no k3s, no node files.
bash testdata/testbed.sh reset "$testbed"

strace -f -qq -y -e trace=openat,read,pread64 -o "$work/trace" \
  "$ferry" install "$work/parts" -i "$work/inventory.yaml" --trusted-key "$work/k.pub" \
  --state-dir "$work/state" >/dev/null

each_part() { find "$work/parts" \( -name '*.part' -o -name '*.rpart' \) "$@"; }
parts=$(each_part | wc -l)
part_bytes=$(each_part -printf '%s\n' | awk '{s += $1} END {print s}')
largest=$(each_part -printf '%s\n' | sort -n | tail -1)
awk -v dir="$work/parts/" -v parts="$parts" -v total="$part_bytes" -v largest="$largest" '
  # openat(AT_FDCWD</…>, "/…/x.part", O_RDONLY|O_CLOEXEC) = 7</…/x.part>
  /openat\(/ && /\.r?part"/ && !/= -1/ {
    split($0, q, "\""); if (index(q[2], dir) == 1) opens[q[2]]++
  }
  # read(7</…/x.part>, …, 1048576) = 1048576
  /(read|pread64)\([0-9]+<[^>]*\.r?part>/ && !/= -1/ {
    match($0, /<[^>]*\.r?part>/); path = substr($0, RSTART + 1, RLENGTH - 2)
    n = $NF; if (index(path, dir) == 1 && n > 0) bytes[path] += n
  }
  END {
    for (p in opens) { o += opens[p]; if (opens[p] > mo) mo = opens[p] }
    for (p in bytes) { b += bytes[p]; if (bytes[p] > mb) mb = bytes[p] }
    printf "| %d data + repair parts, %.1f MiB | %d opens (at most %d of one part) | %.1f MiB read, %.2f x the parts (at most %.2f x one part) |\n",
      parts, total / 1048576, o, mo, b / 1048576, b / total, mb / largest
  }' "$work/trace"
