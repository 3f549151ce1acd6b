#!/usr/bin/env bash
# STAND-IN for a Harbor registry on loopback, for ferry's tests (Harbor cannot run here).
# Written from Harbor's published v2.0 API; it answers only what ferry calls. A real CNCF
# distribution registry (testdata/registry.sh, no auth, 127.0.0.1) stores every byte; the
# Python front testdata/harbor-standin.py answers Harbor's API, token service and permission
# checks in front of it. The endpoints, the exact error answers and every choice made are
# listed in the header of harbor-standin.py.
#
#   testdata/harbor-standin.sh start DIR PORT [--tls] [--address IP]
#       starts the registry under DIR/registry on a free loopback port (DIR/registry.port),
#       then the front on 127.0.0.1:PORT (pid in DIR/harbor.pid, log appended to
#       DIR/harbor.log), waits until GET /api/v2.0/ping answers (that probe is the first line
#       requests.log gets) and prints 127.0.0.1:PORT.
#       --tls   HTTPS with a throwaway CA, DIR/ca.pem, and a server certificate for 127.0.0.1
#               and localhost (DIR/server.pem, DIR/server.key)
#       --address  listen on IP instead of 127.0.0.1 (a test bed's gateway, for its hosts);
#               with --tls the certificate names it too
#   testdata/harbor-standin.sh stop DIR        stops both, by their recorded pids
#
# Tests control it through files in DIR:
#   accounts.json  accounts and robot accounts (written by the test before start; if absent,
#                  start writes one: admin / Harbor12345, Harbor's default, an admin):
#                  [{"name": "admin", "password": "...", "admin": true},
#                   {"name": "robot$ferry-push", "password": "...", "create_projects": false,
#                    "permissions": {"*": ["pull", "push"]}}]
#                  permission keys: project names or * (all); actions: pull, push, delete
#   state.json     projects and API-made robots; persisted on every change, read at start
#                  (tests may pre-create projects: {"projects": [{"name": "p", "public": false}]};
#                  if absent, Harbor's default public project "library" is made)
#   referrers      flag file: answer GET /v2/NAME/referrers/DIGEST as Harbor 2.8+ does
#   missing-project-401
#                  flag file: a repository in a missing project gets real Harbor's 401 answer
#                  instead of 404 NOT_FOUND "project NAME not found"
#   requests.log   one line per request: METHOD PATH?QUERY ACCOUNT-or-- STATUS (no secrets)
set -euo pipefail

usage() {
  echo "usage: harbor-standin.sh start DIR PORT [--tls] [--address IP] | stop DIR" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command=${1:-}
dir=${2:-}
[[ -n "$command" && -n "$dir" ]] || usage

python=/usr/bin/python3
[[ -x "$python" ]] || python=$(command -v python3)

stop_pid() { # PIDFILE: TERM, wait up to 5 s, then KILL; the file goes
  local pid_file=$1 pid
  [[ -f "$pid_file" ]] || return 0
  pid=$(cat "$pid_file")
  if [[ "$pid" =~ ^[0-9]+$ ]]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

case "$command" in
start)
  port=${3:-}
  [[ "$port" =~ ^[0-9]+$ ]] || usage
  shift 3
  tls="" address=127.0.0.1
  while (($#)); do
    case "$1" in
    --tls) tls=1 ;;
    --address)
      address=${2:-}
      [[ "$address" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage
      shift
      ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ ! -f "$dir/accounts.json" ]]; then
    printf '[{"name": "admin", "password": "Harbor12345", "admin": true}]\n' >"$dir/accounts.json"
  fi
  chmod 600 "$dir/accounts.json"

  # A free loopback port for the registry: the kernel picks one, we let go of it at once.
  rport=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$here/registry.sh" start "$dir/registry" "$rport" >/dev/null
  echo "$rport" >"$dir/registry.port"

  tls_args=()
  scheme=http
  if [[ -n "$tls" ]]; then
    scheme=https
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ferry harbor-standin CA" \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$address" \
      -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      "$address" >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
    chmod 600 "$dir/ca.key" "$dir/server.key"
    tls_args=(--tls-cert "$dir/server.pem" --tls-key "$dir/server.key")
  fi

  setsid "$python" "$here/harbor-standin.py" --dir "$dir" --listen "$address:$port" \
    --upstream "127.0.0.1:$rport" --registry-data "$dir/registry/data" "${tls_args[@]}" \
    >>"$dir/harbor.log" 2>&1 </dev/null &
  echo $! >"$dir/harbor.pid"

  curl_args=(-s -o /dev/null -w '%{http_code}' --max-time 2)
  [[ -n "$tls" ]] && curl_args+=(--cacert "$dir/ca.pem")
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/$address/$port") 2>/dev/null; then
      code=$(curl "${curl_args[@]}" "$scheme://$address:$port/api/v2.0/ping" || true)
      if [[ "$code" == 200 ]]; then
        echo "$address:$port"
        exit 0
      fi
    fi
    kill -0 "$(cat "$dir/harbor.pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "harbor-standin did not start on $address:$port; see $dir/harbor.log" >&2
  cat "$dir/harbor.log" >&2 || true
  stop_pid "$dir/harbor.pid"
  "$here/registry.sh" stop "$dir/registry"
  exit 1
  ;;
stop)
  stop_pid "$dir/harbor.pid"
  "$here/registry.sh" stop "$dir/registry"
  ;;
*)
  usage
  ;;
esac
