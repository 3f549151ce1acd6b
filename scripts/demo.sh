#!/usr/bin/env bash
# The whole pipeline on embedded defaults: build ferry, generate a signing key, export the demo
# manifest (manifests/demo.yaml) into a signed bundle, verify and inspect it, and have a second
# person sign it under a two-of-two trust root; then export the
# same images again from a real registry on loopback (started and seeded here) and diff the two;
# split the bundle for a one-way link, lose a part, and join it back; push the parts into the
# registry, take a signed snapshot of it, and export and push a delta against it; then, as root,
# install from the parts directory onto three test hosts (registry, k3s server, k3s agent; the
# k3s binary is a stand-in), re-run it (nothing changes), refuse an older bundle and accept it as
# a deliberate rollback, hand the state to a second operator; day 2: deliver a bundle that
# upgrades k3s and an app and carries OS packages from a signed Debian repository (installed on
# the nodes offline), prune the registry to it, remove the agent, and show the history. The
# registry image is signed with cosign by its "publisher"; export checks and carries the
# signature, and cosign verifies it where ferry pushed the image.
# Everything is written under .work/demo. Grows with each stage of ferry.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >/dev/null
bash testdata/build-fixtures.sh
if [[ -n "${FERRY_BIN:-}" ]]; then
  ferry=$(realpath "$FERRY_BIN") # scripts/test.sh gives the portable release its tests run
else
  cargo build --release --locked -q
  ferry=$PWD/target/release/ferry
fi

work=.work/demo
rm -rf "$work"
mkdir -p "$work"

echo "== ferry key generate"
"$ferry" key generate -o "$work/demo" --unencrypted

echo "== ferry export (readers refuse it after 90 days)"
"$ferry" export -m manifests/demo.yaml -o "$work/demo.tar.zst" --key "$work/demo.key" --expires 90d

echo "== ferry verify"
"$ferry" verify "$work/demo.tar.zst" --trusted-key "$work/demo.pub"

echo "== ferry inspect"
"$ferry" inspect "$work/demo.tar.zst" --trusted-key "$work/demo.pub"

echo "== ferry sbom: each image's OS and packages, as SPDX 2.3 and CycloneDX 1.5"
"$ferry" sbom "$work/demo.tar.zst" -o "$work/sbom" --trusted-key "$work/demo.pub"

echo "== two people sign: a trust root wants 2 bundle keys; the second signs after verifying the first"
"$ferry" key generate -o "$work/second" --unencrypted
"$ferry" trust init "$work/root.json" --root-key "$work/demo.pub" --bundle-key "$work/demo.pub" \
  --bundle-key "$work/second.pub" --bundle-threshold 2
"$ferry" trust sign "$work/root.json" --key "$work/demo.key"
set +e
"$ferry" verify "$work/demo.tar.zst" --trust-root "$work/root.json"
code=$?
set -e
[[ $code -eq 10 ]] || { echo "expected exit 10 (one signature of two), got $code" >&2; exit 1; }
"$ferry" sign "$work/demo.tar.zst" --key "$work/second.key" --trust-root "$work/root.json"
"$ferry" verify "$work/demo.tar.zst" --trust-root "$work/root.json"

echo "== a registry on loopback, seeded with the fixture images"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
address=$(bash testdata/registry.sh start "$work/registry" "$port")
trap 'bash testdata/registry.sh stop "$work/registry"' EXIT
fixtures=target/fixtures/images
skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$fixtures/multiarch:1.0" "docker://$address/example/multiarch:1.0"
skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$fixtures/shared:app1" "docker://$address/apps/app1:1.0"

echo "== its publisher signs the multi-platform image with cosign (a throwaway key, no transparency log)"
cosign=${FERRY_TEST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-test-tools}/trixie/root/usr/bin/cosign
export COSIGN_PASSWORD= COSIGN_YES=true
"$cosign" generate-key-pair --output-key-prefix "$work/publisher" 2>/dev/null
digest=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$address/example/multiarch:1.0" | sha256sum | cut -d' ' -f1)
"$cosign" sign --tlog-upload=false --allow-insecure-registry --key "$work/publisher.key" \
  "$address/example/multiarch@$digest" 2>/dev/null
cat >"$work/registry.yaml" <<YAML
apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {name: demo, version: 0.2.0}
spec:
  platforms: [linux/amd64, linux/arm64]
  images:
    - name: docker.io/example/multiarch:1.0
      from: $address/example/multiarch:1.0
    - name: registry.example.com/apps/app1:1.0
      from: $address/apps/app1:1.0
      platforms: [linux/amd64]
  provenance:                     # the publisher's signature travels and must verify
    keys: [{name: publisher, publicKey: publisher.pub}]
    require: [{images: ['docker.io/example/*'], keys: [publisher]}]
YAML

echo "== ferry export from the registry (plain HTTP allowed for it alone; the signature is checked and carried)"
"$ferry" export -m "$work/registry.yaml" -o "$work/demo-0.2.0.tar.zst" --key "$work/demo.key" \
  --plain-http "$address" --cache-dir "$work/cache"

echo "== ferry verify"
"$ferry" verify "$work/demo-0.2.0.tar.zst" --trusted-key "$work/demo.pub"

echo "== ferry diff 0.1.0 0.2.0"
"$ferry" diff "$work/demo.tar.zst" "$work/demo-0.2.0.tar.zst" --trusted-key "$work/demo.pub"

echo "== ferry report: one HTML page for the reviewer, with what changed since 0.1.0"
"$ferry" report "$work/demo-0.2.0.tar.zst" --base "$work/demo.tar.zst" -o "$work/report.html" \
  --trusted-key "$work/demo.pub"

echo "== ferry split (1 MiB parts, 20 % repair), then lose a part on the way"
"$ferry" split "$work/demo.tar.zst" -o "$work/parts" --part-size 1M --repair 20 --key "$work/demo.key"
rm "$work"/parts/demo-0.1.0.2-of-*.part

echo "== ferry parts status"
"$ferry" parts status "$work/parts" --trusted-key "$work/demo.pub"

echo "== ferry join (rebuilds the lost part, verifies the result)"
"$ferry" join "$work/parts" -o "$work/demo-joined.tar.zst" --trusted-key "$work/demo.pub"
cmp "$work/demo.tar.zst" "$work/demo-joined.tar.zst" && echo "joined bundle is byte-identical"

echo "== ferry verify (the joined bundle)"
"$ferry" verify "$work/demo-joined.tar.zst" --trusted-key "$work/demo.pub"

echo "== ferry push: the parts directory, streamed into a registry on loopback"
"$ferry" push "$work/parts" --to "$address" --plain-http "$address" --trusted-key "$work/demo.pub"

echo "== ferry push again: nothing to send"
"$ferry" push "$work/demo.tar.zst" --to "$address" --plain-http "$address" --trusted-key "$work/demo.pub"

echo "== ferry snapshot of that registry, signed"
"$ferry" snapshot --registry "$address" --plain-http "$address" -o "$work/far.snapshot.json" --key "$work/demo.key"

echo "== ferry export 0.2.0 as a delta against the snapshot: only what the far side lacks"
"$ferry" export -m "$work/registry.yaml" -o "$work/demo-0.2.0-delta.tar.zst" --key "$work/demo.key" \
  --plain-http "$address" --cache-dir "$work/cache" --base "$work/far.snapshot.json" --trusted-key "$work/demo.pub"
ls -l "$work/demo-0.2.0.tar.zst" "$work/demo-0.2.0-delta.tar.zst"

echo "== ferry push the delta"
"$ferry" push "$work/demo-0.2.0-delta.tar.zst" --to "$address" --plain-http "$address" --trusted-key "$work/demo.pub"

echo "== cosign verify where ferry pushed it: the publisher's signature crossed with the image"
"$cosign" verify --key "$work/publisher.pub" --insecure-ignore-tlog=true --allow-insecure-registry \
  --allow-http-registry "$address/docker.io/example/multiarch:1.0" >/dev/null 2>&1
echo "cosign: the signature on docker.io/example/multiarch:1.0 verifies with the publisher's key"

if [[ $(id -u) -ne 0 ]]; then
  echo "== not root: the install onto test hosts is skipped (it needs network namespaces)"
  exit 0
fi
if [[ -z "${FERRY_TESTBED:-}" ]]; then
  echo "== the test bed: three Debian hosts with systemd and OpenSSH (testdata/testbed.sh)"
  # bed number 9: its own bridge and subnet, apart from the beds scripts/test.sh brings up
  bash testdata/testbed.sh up "$PWD/$work/testbed" 3 9
  trap 'bash testdata/registry.sh stop "$work/registry"; bash testdata/testbed.sh down "$PWD/$work/testbed"' EXIT
  FERRY_TESTBED=$PWD/$work/testbed
else
  # A bed the suite's tests also use: wait for a turn on it, as they do (its lock file).
  exec 9>"$FERRY_TESTBED/lock"
  flock 9
  bash testdata/testbed.sh reset "$FERRY_TESTBED" # hosts as before a first install
fi
mapfile -t hosts < <(awk '{print $2}' "$FERRY_TESTBED/hosts")
cat >"$work/inventory.yaml" <<YAML
apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {name: demo}
spec:
  ssh: {identityFiles: [$FERRY_TESTBED/id_ed25519], knownHosts: $FERRY_TESTBED/known_hosts, agent: false}
  hosts:
    - {name: registry-1, address: ${hosts[0]}, roles: [registry]}
    - {name: server-1, address: ${hosts[1]}, roles: [server]}
    - {name: agent-1, address: ${hosts[2]}, roles: [agent]}
  registry: {host: registry-1, dnsName: registry.demo.internal}
  cluster:
    values:
      demo: {replicaCount: 2}
    upgrade: {maxUnavailable: 1, drain: true}
YAML
install=("$ferry" install "$work/parts" -i "$work/inventory.yaml" --trusted-key "$work/demo.pub" --state-dir "$work/state")

echo "== ferry install --plan (checks every host, changes nothing)"
"${install[@]}" --plan

echo "== ferry install, straight from the parts directory (the lost part is rebuilt on the way)"
"${install[@]}"

echo "== ferry install again: nothing changes"
"${install[@]}" | tee "$work/again.txt"
grep -q "nothing changed" "$work/again.txt"

echo "== an older bundle (0.0.9) is refused: exit 7, both versions named"
sed -e 's/version: 0.1.0/version: 0.0.9/' -e "s#\.\./#$PWD/#g" manifests/demo.yaml >"$work/old.yaml"
"$ferry" export -m "$work/old.yaml" -o "$work/demo-0.0.9.tar.zst" --key "$work/demo.key"
old=("$ferry" install "$work/demo-0.0.9.tar.zst" -i "$work/inventory.yaml" --trusted-key "$work/demo.pub" --state-dir "$work/state")
set +e
"${old[@]}"
code=$?
set -e
[[ $code -eq 7 ]] || { echo "expected exit 7 (rollback refused), got $code" >&2; exit 1; }

echo "== the same rollback on purpose: --allow-downgrade (recorded as a rollback)"
"${old[@]}" --allow-downgrade

echo "== a second operator takes over: ferry state export, then import into a fresh state directory"
printf 'demo passphrase, keep it apart from the file\n' >"$work/passphrase"
"$ferry" state export -i "$work/inventory.yaml" --state-dir "$work/state" -o "$work/state.age" \
  --passphrase-file "$work/passphrase"
"$ferry" state import "$work/state.age" -i "$work/inventory.yaml" --state-dir "$work/state-b" \
  --passphrase-file "$work/passphrase"
"$ferry" install "$work/parts" -i "$work/inventory.yaml" --trusted-key "$work/demo.pub" --state-dir "$work/state-b"

echo "== a signed Debian repository on loopback: real packages (apt-get download), a throwaway key"
bash testdata/apt-repo.sh "$work/apt-repo"
apt_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$apt_port" --bind 127.0.0.1 --directory "$work/apt-repo/repo" >/dev/null 2>&1 &
apt_server=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$apt_port") 2>/dev/null && break; sleep 0.1; done

echo "== day 2: bundle 0.3.0 upgrades k3s (v1.30.2 -> v1.31.0) and an app (app1 1.0 -> 1.1),"
echo "   and carries socat and jq for the nodes, with what they depend on"
sed 's/^K3S_STANDIN_VERSION=.*/K3S_STANDIN_VERSION=v1.31.0+k3s1/' testdata/k3s-standin.sh >"$work/k3s-v1.31.0.sh"
sed -e 's/version: 0.1.0/version: 0.3.0/' -e '/apps\/app1:1.0/{s#app1:1.0#app1:1.1#;n;s#shared:app1#shared:app2#}' \
  -e "s#\.\./testdata/k3s-standin.sh#$PWD/$work/k3s-v1.31.0.sh#" -e "s#\.\./#$PWD/#g" \
  manifests/demo.yaml >"$work/demo-0.3.0.yaml"
cat >>"$work/demo-0.3.0.yaml" <<YAML
  packages:
    repositories:
      - {url: 'http://127.0.0.1:$apt_port', suite: bookworm, components: [main], key: '$PWD/$work/apt-repo/key.asc'}
    install: [socat, jq]
    baseline: {packages: [libwrap0]}   # every Priority: required package, plus this one
YAML
"$ferry" export -m "$work/demo-0.3.0.yaml" -o "$work/demo-0.3.0.tar.zst" --key "$work/demo.key"
kill "$apt_server"
"$ferry" inspect "$work/demo-0.3.0.tar.zst" | sed -n '/^PACKAGES/,$p'
"$ferry" diff "$work/demo.tar.zst" "$work/demo-0.3.0.tar.zst" --trusted-key "$work/demo.pub"
day2=("$ferry" install "$work/demo-0.3.0.tar.zst" -i "$work/inventory.yaml" --trusted-key "$work/demo.pub" --state-dir "$work/state-b")
echo "== ferry install --plan 0.3.0: the k3s versions, the order, drain and uncordon"
"${day2[@]}" --plan | grep -E "upgrade k3s|drain|uncordon"
echo "== ferry install 0.3.0: packages on every node (offline, dpkg), then k3s servers first,"
echo "   then agents, each drained and Ready again"
"${day2[@]}"
ssh -i "$FERRY_TESTBED/id_ed25519" -o UserKnownHostsFile="$FERRY_TESTBED/known_hosts" -o BatchMode=yes \
  "root@${hosts[1]}" "dpkg-query -W socat jq && echo '{\"installed by\": \"ferry\"}' | jq -c ."
"$ferry" status -i "$work/inventory.yaml" --state-dir "$work/state-b" | grep -E "k3s:|DRIFT|drift"

echo "== ferry prune --keep 1: only what 0.3.0 references stays; the registry collects its garbage"
"$ferry" prune -i "$work/inventory.yaml" --keep 1 --state-dir "$work/state-b"

echo "== ferry node remove agent-1 (--plan first): cordon, drain, delete, clean the host"
"$ferry" node remove agent-1 -i "$work/inventory.yaml" --state-dir "$work/state-b" --plan
"$ferry" node remove agent-1 -i "$work/inventory.yaml" --state-dir "$work/state-b"
grep -v 'agent-1' "$work/inventory.yaml" >"$work/inventory-2.yaml"
echo "== install with the agent gone from the inventory: nothing changes, no drift"
"$ferry" install "$work/demo-0.3.0.tar.zst" -i "$work/inventory-2.yaml" --trusted-key "$work/demo.pub" \
  --state-dir "$work/state-b" | tee "$work/day2-again.txt"
grep -q "drift: none" "$work/day2-again.txt"

echo "== ferry history -i: every install, rollback, node removal and prune, with its outcome"
"$ferry" history -i "$work/inventory-2.yaml" --state-dir "$work/state-b"

echo "== ferry status -i"
"$ferry" status -i "$work/inventory-2.yaml" --state-dir "$work/state-b"
