#!/usr/bin/env bash
# A throwaway CNCF distribution registry (Debian's docker-registry) on loopback.
#
#   testdata/registry.sh start DIR PORT   # config and data under DIR; prints 127.0.0.1:PORT
#   testdata/registry.sh stop DIR         # kills the PID recorded in DIR/registry.pid
#
# Started with setsid so it outlives the caller's process group; stopped by its PID only.
set -euo pipefail

command=${1:?usage: registry.sh start DIR PORT | stop DIR}
dir=${2:?registry directory}

case "$command" in
start)
  port=${3:?port}
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http: {addr: "127.0.0.1:$port"}
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
