#!/usr/bin/env bash
# The multi-host test bed: N real Debian hosts, each booted by systemd-nspawn with systemd as
# PID 1 and OpenSSH, in its own network namespace, joined by a bridge to this machine.
#
#   testdata/testbed.sh base               # build (or find cached) the hosts' base image only
#   testdata/testbed.sh up DIR [N] [BED]   # N hosts (default 3) on bed number BED (default 0)
#   testdata/testbed.sh reset DIR          # remove every trace of an installation from its hosts
#   testdata/testbed.sh down DIR
#
# Several beds run side by side, each on its own bridge and subnet (scripts/test.sh brings up
# one per concurrent bed test, docs/testing.md). On bed B, host i is ferry-h<i> (bed 0) or
# ferry-b<B>h<i> at 198.18.B.1<i> (198.18.0.0/15 is reserved for testing); this machine is
# 198.18.B.1 on the bridge ferrybr<B>. DIR receives:
#   id_ed25519            the client key every host authorises for root
#   known_hosts           every host's real host keys (strict checking is exercised, not disabled)
#   hosts                 one line per host: name address root-directory
#   gateway               this machine's address on the bed's bridge (hosts reach it there)
#   bed                   the bed number
#   <name>/root           the host's root file system (an overlay over the cached base, or a copy)
#   <name>/nspawn.log     what systemd-nspawn printed
# The base root file system (debootstrap, ~1 min once) is cached in $FERRY_TESTBED_BASE
# (default target/testbed-base) and rebuilt when this script's base recipe changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
usage="usage: testbed.sh base | up DIR [N] [BED] | reset DIR | down DIR"
command=${1:?$usage}
base=${FERRY_TESTBED_BASE:-$here/../target/testbed-base}
if [[ "$command" != base ]]; then
  dir=$(realpath -m "${2:?$usage}")
fi
BASE_PACKAGES=systemd,systemd-sysv,openssh-server,dbus,iproute2,ca-certificates,containerd,runc,curl,procps

log() { echo "testbed: $*" >&2; }

build_base() {
  local recipe
  recipe=$(echo "$BASE_PACKAGES v3" | sha256sum | cut -d' ' -f1)
  if [[ -f "$base/.stamp" && "$(cat "$base/.stamp")" == "$recipe" ]]; then
    return
  fi
  log "building the base root file system in $base (debootstrap, once)"
  rm -rf "$base"
  mkdir -p "$(dirname "$base")"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$base.tmp" \
    >"$base.debootstrap.log" 2>&1; then
    log "debootstrap failed; the end of its log:"
    tail -n 40 "$base.debootstrap.log" >&2
    tail -n 40 "$base.tmp/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    exit 1
  fi
  # Hosts must boot quickly and quietly: no getty on a console nobody reads, sshd allowed for root
  # by key only, and no services that would wait for a network this bed does not have.
  chroot "$base.tmp" systemctl mask getty@tty1.service console-getty.service \
    systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
  chroot "$base.tmp" systemctl enable ssh.service >/dev/null 2>&1 || true
  printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\n' \
    >"$base.tmp/etc/ssh/sshd_config.d/ferry-testbed.conf"
  # Every host gets its own host keys (generated in up).
  rm -f "$base.tmp"/etc/ssh/ssh_host_*
  # containerd is installed for the node tests but started only when a test configures it.
  chroot "$base.tmp" systemctl disable containerd.service >/dev/null 2>&1 || true
  rm -f "$base.tmp/etc/machine-id"
  : >"$base.tmp/etc/machine-id"
  echo "$recipe" >"$base.tmp/.stamp"
  mv "$base.tmp" "$base"
}

# mount_root NAME: an overlay over the base where the kernel allows it, a copy elsewhere
mount_root() {
  local host=$1
  mkdir -p "$dir/$host/root" "$dir/$host/upper" "$dir/$host/work"
  if mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir/$host/upper,workdir=$dir/$host/work" \
    "$dir/$host/root" 2>/dev/null; then
    echo overlay >"$dir/$host/mode"
  else
    log "overlayfs unavailable here; copying the base for $host"
    cp -a "$base/." "$dir/$host/root/"
    echo copy >"$dir/$host/mode"
  fi
}

wait_for_ssh() {
  local host=$1 address=$2 pid=$3
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/$address/22") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$host: systemd-nspawn exited; its log:"
      tail -n 60 "$dir/$host/nspawn.log" >&2
      return 1
    fi
    sleep 0.2
  done
  log "$host: no SSH on $address:22 after 120 s; the end of its console log:"
  tail -n 60 "$dir/$host/nspawn.log" >&2
  return 1
}

# host_name BED I: unique across beds; the host's link on this machine is veth-NAME (at most
# 15 bytes: beds 0 to 9)
host_name() { if (($1 == 0)); then echo "ferry-h$2"; else echo "ferry-b$1h$2"; fi; }

up() {
  local count=${3:-3} bed=${4:-0}
  [[ $(id -u) -eq 0 ]] || { log "needs root (network namespaces, systemd-nspawn)"; exit 1; }
  [[ "$bed" =~ ^[0-9]$ ]] || { log "bed number $bed: give 0 to 9"; exit 2; }
  for tool in debootstrap systemd-nspawn ip ssh-keygen ssh-keyscan; do
    command -v "$tool" >/dev/null || { log "missing $tool (scripts/install-deps.sh installs it)"; exit 1; }
  done
  down_quietly "$bed"
  build_base
  local bridge=ferrybr$bed gateway=198.18.$bed.1
  mkdir -p "$dir"
  echo "$bed" >"$dir/bed"
  echo "$gateway" >"$dir/gateway"
  ssh-keygen -q -t ed25519 -N '' -C ferry-testbed -f "$dir/id_ed25519" <<<y >/dev/null
  : >"$dir/hosts"
  : >"$dir/known_hosts"
  ip link add "$bridge" type bridge
  ip addr add "$gateway/24" dev "$bridge"
  ip link set "$bridge" up
  local pids=()
  for i in $(seq "$count"); do
    local host address=198.18.$bed.1$i
    host=$(host_name "$bed" "$i")
    mount_root "$host"
    local root=$dir/$host/root
    install -D -m 600 "$dir/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
    echo "$host" >"$root/etc/hostname"
    # A machine id of its own, as distinct machines have (the base image's is empty, and a
    # cloned id is what preflight refuses).
    od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
    echo >>"$root/etc/machine-id"
    rm -f "$root"/etc/ssh/ssh_host_*
    ssh-keygen -q -t ed25519 -N '' -C "$host" -f "$root/etc/ssh/ssh_host_ed25519_key"
    ssh-keygen -q -t ecdsa -N '' -C "$host" -f "$root/etc/ssh/ssh_host_ecdsa_key"
    ssh-keygen -q -t rsa -b 3072 -N '' -C "$host" -f "$root/etc/ssh/ssh_host_rsa_key"
    printf '127.0.0.1 localhost\n%s %s\n' "$address" "$host" >"$root/etc/hosts"
    ip netns add "$host"
    ip link add "veth-$host" type veth peer name eth0 netns "$host"
    ip link set "veth-$host" master "$bridge" up
    ip -n "$host" addr add "$address/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" link set lo up
    ip -n "$host" route add default via "$gateway"
    setsid systemd-nspawn --boot --quiet -D "$root" -M "$host" --register=no --keep-unit \
      --network-namespace-path="/run/netns/$host" --capability=all \
      >"$dir/$host/nspawn.log" 2>&1 </dev/null &
    echo $! >"$dir/$host/pid"
    pids+=($!)
    echo "$host $address $root" >>"$dir/hosts"
  done
  for i in $(seq "$count"); do
    local host address=198.18.$bed.1$i
    host=$(host_name "$bed" "$i")
    wait_for_ssh "$host" "$address" "${pids[$((i - 1))]}" || exit 1
    # sshd is listening once keys exist: read them from the host's own files, not from the wire.
    for key in "$dir/$host/root"/etc/ssh/ssh_host_*_key.pub; do
      echo "$address $(cut -d' ' -f1,2 "$key")" >>"$dir/known_hosts"
    done
  done
  for i in $(seq "$count"); do
    local host address=198.18.$bed.1$i
    host=$(host_name "$bed" "$i")
    if ! ssh -q -i "$dir/id_ed25519" -o UserKnownHostsFile="$dir/known_hosts" -o StrictHostKeyChecking=yes \
      -o BatchMode=yes -o ConnectTimeout=20 "root@$address" \
      'for _ in $(seq 120); do s=$(systemctl is-system-running 2>/dev/null); case $s in running|degraded) exit 0;; esac; sleep 0.5; done; exit 1'; then
      log "$host: SSH works but systemd did not finish booting; its console log:"
      tail -n 40 "$dir/$host/nspawn.log" >&2
      exit 1
    fi
  done
}

# Remove every trace of an earlier installation from every host, so the next install is a
# first one (install refuses a state directory that is not the installation's own).
reset() {
  while read -r host address _; do
    ssh -n -q -i "$dir/id_ed25519" -o UserKnownHostsFile="$dir/known_hosts" -o StrictHostKeyChecking=yes \
      -o BatchMode=yes "root@$address" \
      'systemctl stop ferry-registry ferry-registry-pull k3s k3s-agent 2>/dev/null
       rm -rf /etc/ferry /var/lib/ferry /usr/local/lib/ferry /etc/rancher /var/lib/k3s-standin /usr/local/bin/k3s \
         /etc/systemd/system/ferry-registry*.service /etc/systemd/system/k3s*.service \
         /etc/containerd/certs.d /var/lib/rancher/k3s/server/manifests /run/systemd/transient/k3s*.service
       # the trust store is rebuilt only when a test left the registry CA in it (costly on 2 cores)
       ca=/usr/local/share/ca-certificates/ferry-registry.crt
       if [ -e $ca ]; then rm -f $ca; update-ca-certificates >/dev/null 2>&1; fi
       dpkg --purge socat jq libjq1 libonig5 >/dev/null 2>&1
       systemctl daemon-reload; systemctl reset-failed 2>/dev/null; true' ||
      { log "$host: reset failed"; exit 1; }
  done <"$dir/hosts"
}

# Takes down the bed in DIR, and whatever of bed DIR/bed (or of the bed number being brought up)
# an interrupted run left behind; other beds are left alone.
down_quietly() {
  local bed=${1:-}
  [[ -z "$bed" && -f "$dir/bed" ]] && bed=$(cat "$dir/bed")
  bed=${bed:-0}
  if [[ -d "$dir" ]]; then
    for pid_file in "$dir"/*/pid; do
      [[ -f "$pid_file" ]] || continue
      local pid
      pid=$(cat "$pid_file")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pid_file"
    done
    for root in "$dir"/*/root; do
      [[ -d "$root" ]] || continue
      umount "$root" 2>/dev/null || true
    done
  fi
  local prefix
  prefix=$(host_name "$bed" "")
  for netns in $(ip netns list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[0-9]+$/ {print $1}'); do
    ip netns del "$netns" 2>/dev/null || true
  done
  ip link del "ferrybr$bed" 2>/dev/null || true
  rm -rf "$dir"
}

case "$command" in
base) build_base ;;
up) up "$@" ;;
reset) reset ;;
down) down_quietly ;;
*)
  echo "$usage" >&2
  exit 2
  ;;
esac
