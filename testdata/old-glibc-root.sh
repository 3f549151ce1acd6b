#!/usr/bin/env bash
# A root file system with an old glibc, to run the portable release binary in: Ubuntu 16.04
# (xenial, glibc 2.23; older than RHEL 8's 2.28), minbase, from archive.ubuntu.com through
# debootstrap. Built once into DIR (a stamp records the recipe).
#
# Debian 12 carries no Ubuntu archive keyring and key servers are out of reach here, so the
# suite's InRelease signature cannot be checked (--no-check-gpg); debootstrap still checks every
# package against the suite's Packages hashes. Nothing of this root file system is trusted: the
# tests only run ferry inside it and read its exit code.
#
#   testdata/old-glibc-root.sh DIR
set -euo pipefail
dir=${1:?usage: old-glibc-root.sh DIR}
recipe="xenial minbase v1"
if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$recipe" ]]; then
  exit 0
fi
rm -rf "$dir" "$dir.tmp"
mkdir -p "$(dirname "$dir")"
if ! debootstrap --variant=minbase --no-check-gpg xenial "$dir.tmp" http://archive.ubuntu.com/ubuntu \
  >"$dir.log" 2>&1; then
  echo "old-glibc-root: debootstrap xenial failed; the end of its log:" >&2
  tail -n 20 "$dir.log" >&2
  exit 1
fi
mv "$dir.tmp" "$dir"
echo "$recipe" >"$dir/.stamp"
