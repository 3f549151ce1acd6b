#!/bin/sh
# STAND-IN for the k3s binary, which cannot be had on this machine (no network beyond package
# registries). Tests ship it in the bundle as the file with role `k3s`; ferry installs and runs
# it exactly as it would run k3s. It only records how it was run and answers what ferry asks;
# tests control the answers through files under /var/lib/k3s-standin on the host they ask:
#   k3s --version                 "k3s version VERSION", VERSION from the line below (tests make
#                                 other versions of this file with sed: a new binary)
#   k3s server|agent ARGS...      records ARGS, the config and environment it was started with,
#                                 tells systemd it is ready, waits; while ./start.fail holds a
#                                 number above 0, a start counts it down and fails instead
#   k3s kubectl get node NAME --no-headers
#                                 "NAME Ready ..." ("NotReady" if NAME is in ./notready); the
#                                 node joins ./nodes, the cluster's node list, when first asked
#   k3s kubectl get nodes --no-headers   one line per name in ./nodes
#   k3s kubectl cordon|uncordon NAME     recorded; succeeds
#   k3s kubectl drain NAME ...           recorded; fails with the text of ./drain.fail if present
#   k3s kubectl delete node NAME         recorded; NAME leaves ./nodes
#   k3s kubectl delete ...               recorded; succeeds
#   k3s kubectl get job -n NS helm-install-CHART -o jsonpath=...
#                                 "CREATED|SUCCEEDED|FAILED|CONDITION" from ./jobs/CHART:
#                                 succeeded (also when absent), failed or running
#   k3s kubectl logs -n NS job/helm-install-CHART ...   the text of ./jobs/CHART.log
# Every invocation is appended to ./invocations with the time. Nothing here pretends to be a
# cluster: the tests assert ferry's behaviour through these records and the unit files.
set -eu
K3S_STANDIN_VERSION=v1.30.2+k3s1
umask 077
state=/var/lib/k3s-standin
mkdir -p "$state"
printf '%s %s\n' "$(date +%s.%N)" "$*" >>"$state/invocations"
case "${1:-}" in
--version | -v | version)
  echo "k3s version $K3S_STANDIN_VERSION (k3s-standin)"
  echo "go version go1.22.0 (stand-in)"
  exit 0
  ;;
server | agent)
  role=$1
  shift
  left=$(cat "$state/start.fail" 2>/dev/null || echo 0)
  if [ "$left" -gt 0 ]; then
    echo $((left - 1)) >"$state/start.fail"
    echo "k3s stand-in: this start fails, as ./start.fail asked" >&2
    exit 1
  fi
  printf '%s\n' "$@" >"$state/$role.args"
  cp /etc/rancher/k3s/config.yaml "$state/$role.config.yaml"
  env | sort >"$state/$role.env"
  systemd-notify --ready
  exec sleep infinity
  ;;
kubectl)
  shift
  verb=${1:-}
  case "$verb" in
  get)
    if [ "${2:-}" = node ] && [ -n "${3:-}" ]; then
      touch "$state/nodes"
      grep -qxF "$3" "$state/nodes" || echo "$3" >>"$state/nodes"
      ready=Ready
      if [ -f "$state/notready" ] && grep -qxF "$3" "$state/notready"; then ready=NotReady; fi
      echo "$3   $ready   <none>   1m   $K3S_STANDIN_VERSION"
      exit 0
    fi
    if [ "${2:-}" = nodes ]; then
      touch "$state/nodes"
      while read -r name; do
        [ -n "$name" ] && echo "$name   Ready   <none>   1m   $K3S_STANDIN_VERSION"
      done <"$state/nodes"
      exit 0
    fi
    if [ "${2:-}" = job ]; then
      job=
      for arg in "$@"; do
        case "$arg" in helm-install-*) job=${arg#helm-install-} ;; esac
      done
      now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
      case "$(cat "$state/jobs/$job" 2>/dev/null || echo succeeded)" in
      succeeded) echo "$now|1||Complete" ;;
      failed) echo "$now||3|Failed" ;;
      *) echo "$now|||" ;;
      esac
      exit 0
    fi
    ;;
  cordon | uncordon) exit 0 ;;
  drain)
    if [ -f "$state/drain.fail" ]; then
      cat "$state/drain.fail" >&2
      exit 1
    fi
    exit 0
    ;;
  delete)
    if [ "${2:-}" = node ] && [ -n "${3:-}" ]; then
      touch "$state/nodes"
      grep -vxF "$3" "$state/nodes" >"$state/nodes.new" || true
      mv "$state/nodes.new" "$state/nodes"
    fi
    exit 0 # recorded above; a real k3s would delete the object
    ;;
  logs)
    for arg in "$@"; do
      case "$arg" in job/helm-install-*) cat "$state/jobs/${arg#job/helm-install-}.log" 2>/dev/null || true ;; esac
    done
    exit 0
    ;;
  esac
  echo "k3s stand-in: 'kubectl $*' is not answered" >&2
  exit 1
  ;;
*)
  echo "k3s stand-in: unsupported command: $*" >&2
  exit 2
  ;;
esac
