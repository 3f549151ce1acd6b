#!/usr/bin/env bash
# A throwaway CNCF distribution registry (Debian's docker-registry) on loopback.
#
#   testdata/registry.sh start DIR PORT [--tls] [--user NAME:PASSWORD]
#       config and data under DIR; prints 127.0.0.1:PORT.
#       --tls   generates DIR/ca.pem (a throwaway CA) and a server certificate for 127.0.0.1
#       --user  protects the registry with htpasswd (bcrypt) for that user
#   testdata/registry.sh stop DIR         # kills the PID recorded in DIR/registry.pid
#
# Started with setsid so it outlives the caller's process group; stopped by its PID only.
set -euo pipefail

command=${1:?usage: registry.sh start DIR PORT | stop DIR}
dir=${2:?registry directory}

case "$command" in
start)
  port=${3:?port}
  shift 3
  tls="" user=""
  while (($#)); do
    case "$1" in
    --tls) tls=1 ;;
    --user) user=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  mkdir -p "$dir/data"
  http="  addr: \"127.0.0.1:$port\""
  if [[ -n "$tls" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ferry test CA" \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$dir/san.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 2 -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null
    chmod 600 "$dir/ca.key" "$dir/server.key"
    http+=$'\n'"  tls: {certificate: $dir/server.pem, key: $dir/server.key}"
  fi
  auth=""
  if [[ -n "$user" ]]; then
    htpasswd -Bbn "${user%%:*}" "${user#*:}" >"$dir/htpasswd"
    chmod 600 "$dir/htpasswd"
    auth="auth: {htpasswd: {realm: ferry-test, path: $dir/htpasswd}}"
  fi
  cat >"$dir/config.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
$http
$auth
YAML
  setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "127.0.0.1:$port"
      exit 0
    fi
    kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "registry did not start on 127.0.0.1:$port; see $dir/registry.log" >&2
  cat "$dir/registry.log" >&2 || true
  exit 1
  ;;
stop)
  pid_file="$dir/registry.pid"
  [[ -f "$pid_file" ]] || exit 0
  pid=$(cat "$pid_file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pid_file"
  ;;
*)
  echo "usage: registry.sh start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
