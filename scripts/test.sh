#!/usr/bin/env bash
# Install the test dependencies, build the fixtures, and run the whole suite (with lints).
# Under CI=true, tests that need the test bed fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash testdata/build-fixtures.sh
bash testdata/apt-repo.sh target/fixtures/apt-repo

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo build (fuzz targets compile as part of the workspace check)"
bash scripts/check-fuzz.sh
log=$(mktemp)
testbed_dir="$PWD/target/testbed"
cleanup() {
  rm -f "$log"
  [[ -n "${FERRY_TESTBED:-}" ]] && bash testdata/testbed.sh down "$testbed_dir" || true
}
trap cleanup EXIT

# The multi-host test bed: four systemd-nspawn Debian hosts with OpenSSH (testdata/testbed.sh).
if [[ $(id -u) -eq 0 ]]; then
  echo "== test bed: 4 hosts (testdata/testbed.sh)"
  if bash testdata/testbed.sh up "$testbed_dir" 4; then
    export FERRY_TESTBED="$testbed_dir"
  elif [[ "${CI:-}" == true ]]; then
    echo "the test bed did not come up (its reason is above); under CI=true that fails the run" >&2
    exit 1
  else
    echo "the test bed did not come up (its reason is above); tests that need it will skip" >&2
  fi
elif [[ "${CI:-}" == true ]]; then
  echo "the test bed needs root (network namespaces, systemd-nspawn); run as root under CI=true" >&2
  exit 1
else
  echo "not root: the multi-host test bed is skipped, and so are the tests that need it" >&2
fi

echo "== scripts/release.sh (the portable release the tests check), signed with a throwaway key"
rm -f target/release-test.key target/release-test.pub
minisign -G -W -p target/release-test.pub -s target/release-test.key >/dev/null
bash scripts/release.sh --key target/release-test.key
export FERRY_RELEASE_PUB="$PWD/target/release-test.pub"
echo "== an old-glibc root file system for the release binary (testdata/old-glibc-root.sh)"
if [[ $(id -u) -eq 0 ]]; then
  bash testdata/old-glibc-root.sh "$PWD/target/old-glibc-root"
fi

echo "== cargo test"
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
echo "== scripts/demo.sh (the whole pipeline, on the test bed when it is up)"
if FERRY_BIN=target/debug/ferry bash scripts/demo.sh; then
  echo "demo: ok" | tee -a "$log"
else
  echo "demo: FAILED" | tee -a "$log"
  status=1
fi
# One closing line for the whole suite (cargo prints one per test binary, the last often empty).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1) } }
     /^demo: FAILED/ { f += 1 } /^demo: ok/ { p += 1 }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
