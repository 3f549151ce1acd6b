#!/bin/sh
# STAND-IN for the k3s binary, which cannot be had on this machine (no network beyond package
# registries). Tests ship it in the bundle as the file with role `k3s`; ferry installs and runs
# it exactly as it would run k3s. It only records how it was run and answers the readiness query:
#   k3s server|agent ARGS...   records ARGS, the config and environment it was started with
#                              under /var/lib/k3s-standin (0700), tells systemd it is ready, waits
#   k3s kubectl get node NAME --no-headers   answers "NAME Ready ..."
#   k3s kubectl delete ...     is recorded and succeeds
# Nothing here pretends to be a cluster: the tests assert ferry's behaviour through these
# records, the unit files and the order of invocations.
set -eu
umask 077
state=/var/lib/k3s-standin
mkdir -p "$state"
printf '%s %s\n' "$(date +%s.%N)" "$*" >>"$state/invocations"
case "${1:-}" in
server | agent)
  role=$1
  shift
  printf '%s\n' "$@" >"$state/$role.args"
  cp /etc/rancher/k3s/config.yaml "$state/$role.config.yaml"
  env | sort >"$state/$role.env"
  systemd-notify --ready
  exec sleep infinity
  ;;
kubectl)
  if [ "${2:-}" = get ] && [ "${3:-}" = node ] && [ -n "${4:-}" ]; then
    echo "$4   Ready   <none>   1m   v0.0.0-standin"
    exit 0
  fi
  if [ "${2:-}" = delete ]; then
    exit 0 # recorded above; a real k3s would delete the object
  fi
  echo "k3s stand-in: only 'kubectl get node NAME' and 'kubectl delete' are answered" >&2
  exit 1
  ;;
*)
  echo "k3s stand-in: unsupported command: $*" >&2
  exit 2
  ;;
esac
