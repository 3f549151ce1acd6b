#!/usr/bin/env bash
# Push over SSH, side by side with OpenSSH in one run (medians of RUNS runs each), as root:
#   ferry install of a 1 GiB bundle onto a test host (registry converged, every blob pushed
#   through the SSH tunnel into an emptied registry)   against   ssh host 'cat > /dev/null' < bundle
# plus ferry's peak RSS and a no-op re-install. Uses the test bed of $FERRY_TESTBED, or brings up
# a one-host test bed of its own (testdata/testbed.sh) and takes it down afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
[[ $(id -u) -eq 0 ]] || { echo "bench-push.sh needs root (the test bed)" >&2; exit 1; }

cargo build --release --locked -q
ferry=$PWD/target/release/ferry
work=$PWD/.work/bench-push
mkdir -p "$work"
if [[ -z "${FERRY_TESTBED:-}" ]]; then
  bash testdata/testbed.sh up "$work/testbed" 1
  trap 'bash testdata/testbed.sh down "$work/testbed"' EXIT
  FERRY_TESTBED=$work/testbed
fi
read -r _ address _ <"$FERRY_TESTBED/hosts"
identity=$FERRY_TESTBED/id_ed25519
known_hosts=$FERRY_TESTBED/known_hosts
ssh_host() { ssh -i "$identity" -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes "root@$address" "$@"; }

if [[ ! -f "$work/bundle.tar.zst" ]]; then
  { printf '\x1f\x8b\x08\x00'; head -c "$((SIZE_MIB * 1024 * 1024 - 4))" /dev/urandom; } >"$work/layer.bin"
  cat >"$work/m.yaml" <<YAML
apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {name: bench-push, version: "1"}
spec:
  files:
    - {name: layer, path: layer.bin}
    - {name: registry, path: /usr/bin/docker-registry, role: registry, mode: "0755", platform: linux/amd64}
YAML
  "$ferry" key generate -o "$work/k" --unencrypted --force >/dev/null
  "$ferry" export -m "$work/m.yaml" -o "$work/bundle.tar.zst" --key "$work/k.key" >/dev/null
  rm -f "$work/layer.bin"
fi
bundle=$work/bundle.tar.zst
cat >"$work/inventory.yaml" <<YAML
apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {name: bench-push}
spec:
  ssh: {identityFiles: [$identity], knownHosts: $known_hosts, agent: false}
  hosts:
    - {name: h1, address: $address, roles: [registry]}
  registry: {host: h1, dnsName: registry.bench.test}
YAML
install() { "$ferry" install "$bundle" -i "$work/inventory.yaml" --trusted-key "$work/k.pub" --state-dir "$work/state" "$@"; }
empty_registry() { ssh_host 'systemctl stop ferry-registry 2>/dev/null; rm -rf /var/lib/ferry/registry' || true; }
cat "$bundle" >/dev/null # warm the page cache for both

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
install_t=() ssh_t=() noop_t=() rss=()
for _ in $(seq "$RUNS"); do
  empty_registry
  rss+=("$( { /usr/bin/time -f %M "$ferry" install "$bundle" -i "$work/inventory.yaml" --trusted-key "$work/k.pub" --state-dir "$work/state" >/dev/null; } 2>&1 | tail -1)")
  empty_registry
  install_t+=("$(seconds install)")
  noop_t+=("$(seconds install)")
  ssh_t+=("$(seconds sh -c "ssh -i '$identity' -o UserKnownHostsFile='$known_hosts' -o StrictHostKeyChecking=yes -o BatchMode=yes root@$address 'cat > /dev/null' < '$bundle'")")
done
bytes=$(stat -c %s "$bundle")
m() { printf '%s\n' "$@" | median; }
i=$(m "${install_t[@]}") s=$(m "${ssh_t[@]}") n=$(m "${noop_t[@]}")
printf 'bundle: %s bytes; %s runs each (median); host %s\n' "$bytes" "$RUNS" "$address"
printf 'ferry install (empty registry):  %6.2f s  %6.0f MB/s  peak RSS %s kB\n' "$i" "$(echo "$bytes / $i / 1000000" | bc -l)" "$(m "${rss[@]}")"
printf "ssh host 'cat > /dev/null':      %6.2f s  %6.0f MB/s\n" "$s" "$(echo "$bytes / $s / 1000000" | bc -l)"
printf 'throughput ratio ferry/ssh:      %6.2f\n' "$(echo "$s / $i" | bc -l)"
printf 'ferry install again (no-op):     %6.2f s\n' "$n"
