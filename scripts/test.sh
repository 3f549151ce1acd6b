#!/usr/bin/env bash
# Install the test dependencies, build the fixtures, bring up the test beds, and run the whole
# suite (lints, every test, the demo), timing each phase; docs/testing.md explains the groups.
#
#   scripts/test.sh                  everything (CI runs this through .ci/run)
#   scripts/test.sh --quick          the inner loop: every test that needs no test bed, no root
#                                    and no release build (unit tests included); no demo
#   scripts/test.sh [--quick] -- ARG...  ARGs go to cargo nextest run: a test name, or a filter
#                                    such as -E 'test(/^parts::/)'
#
# Under CI=true, tests that need the test bed fail instead of skipping. At the end it prints the
# wall time of each phase and the slowest tests, and warns when the suite took over 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/test.sh [--quick] [-- NEXTEST_ARGS...]"
quick=false
nextest_args=()
while (($#)); do
  case "$1" in
  --quick) quick=true; shift ;;
  --) shift; nextest_args=("$@"); break ;;
  -h | --help) sed -n '2,13p' "$0" | cut -c3-; exit 0 ;;
  *) echo "$usage" >&2; exit 2 ;;
  esac
done

ci=false
[[ "${CI:-}" == true ]] && ci=true
root=false
[[ $(id -u) -eq 0 ]] && root=true
if [[ $quick == false && $ci == true && $root == false ]]; then
  echo "the test beds need root (network namespaces, systemd-nspawn); run as root under CI=true" >&2
  exit 1
fi

# As many beds as tests on beds may run at once: the bed group's max-threads in
# .config/nextest.toml.
beds=$(sed -n 's/^bed = { max-threads = \([0-9]*\) }.*/\1/p' .config/nextest.toml)
[[ -n "$beds" ]] || { echo "no bed group in .config/nextest.toml" >&2; exit 1; }
testbed_dir="$PWD/target/testbed"
# A run longer than this prints a loud warning naming the slowest tests.
budget_seconds=1200

source scripts/lib/phases.sh
source scripts/lib/linted-cargo.sh
# The test build links Debian's libzstd (libzstd-dev, from scripts/install-deps.sh) instead of
# compiling zstd's C, about 30 s of CPU; every cargo call of the run sees the same setting, so
# nothing is built twice. The portable release keeps its own vendored zstd (scripts/release.sh
# unsets this).
export ZSTD_SYS_USE_PKG_CONFIG=1
cleanup() {
  phase_stop_all
  if [[ -d "$testbed_dir" ]]; then
    for bed in "$testbed_dir"/bed*; do
      [[ -d "$bed" ]] && bash testdata/testbed.sh down "$bed" || true
    done
  fi
}
trap cleanup EXIT

bring_up_beds() {
  bash testdata/testbed.sh base
  local pids=() i status=0
  for ((i = 0; i < beds; i++)); do
    bash testdata/testbed.sh up "$testbed_dir/bed$i" 4 "$i" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return "$status"
}

release_build() {
  bash scripts/release.sh --tools-only
  rm -f target/release-test.key target/release-test.pub
  minisign -G -W -p target/release-test.pub -s target/release-test.key >/dev/null
  # a target directory of its own: cargo locks one for each build, and the tests build meanwhile
  CARGO_TARGET_DIR=target/release-build bash scripts/release.sh --key target/release-test.key
}
export -f release_build

# Apt and pip fetch while cargo compiles: the first phases need nothing they install.
phase_start "test dependencies" bash scripts/install-deps.sh
phase "cargo fmt --check" cargo fmt --all -- --check
phase_wait "test dependencies"
# The portable release builds from here on, beside the test build; the command-line tests run
# against it once it is there.
release_phase="release build (scripts/release.sh, signed with a throwaway key)"
[[ $quick == true ]] || phase_start "$release_phase" bash -c release_build
phase_start "fixtures" bash -c 'bash testdata/build-fixtures.sh && bash testdata/apt-repo.sh target/fixtures/apt-repo'
if [[ $quick == false && $root == true ]]; then
  phase_start "test beds ($beds x 4 hosts)" bring_up_beds
  phase_start "old-glibc root file system" bash testdata/old-glibc-root.sh "$PWD/target/old-glibc-root"
elif [[ $quick == false ]]; then
  echo "not root: the test beds are not brought up, and the tests that need them will skip" >&2
fi
# clippy as the compiler of the workspace's crates: lints and the test build in one pass. Below
# the release build's priority when both run: the command-line tests wait for the release, and
# the test build fills the cores whenever the release's own build leaves one idle.
test_build() (
  [[ $quick == true ]] || renice -n 10 -p "$BASHPID" >/dev/null
  linted_build --workspace --all-targets --locked --timings
)
phase "lint and build (clippy -D warnings; tests, fuzz targets, examples)" test_build
phase_wait "fixtures"
if [[ $quick == false && $root == true ]]; then
  phase_wait "old-glibc root file system"
  if phase_wait "test beds ($beds x 4 hosts)"; then
    export FERRY_TESTBED="$testbed_dir"
  elif [[ $ci == true ]]; then
    echo "the test beds did not come up (the reason is above); under CI=true that fails the run" >&2
    exit 1
  else
    echo "the test beds did not come up (the reason is above); tests that need them will skip" >&2
  fi
fi

release_tests='test(/^release::/)'
junit=target/nextest/ci/junit.xml
junits=()
rm -f "$junit"
# nextest ARGS within SCOPE: each filterset given after `--` is narrowed to SCOPE (nextest runs
# the union of several -E), and SCOPE alone without one.
scoped() {
  local scope=$1 narrowed=false
  shift
  local args=()
  while (($#)); do
    case "$1" in
    -E | --filterset) args+=("$1" "($2) & ($scope)"); narrowed=true; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
  done
  [[ $narrowed == true ]] || args+=(-E "$scope")
  printf '%s\0' "${args[@]}"
}
nextest_in() { # SCOPE: run the suite's tests within SCOPE
  local args
  mapfile -d '' args < <(scoped "$1" "${nextest_args[@]}")
  linted_cargo nextest run --workspace --locked --profile ci --no-fail-fast --no-tests=warn "${args[@]}"
}
status=0
keep_junit() { # NAME: keep the JUnit report of the nextest run that just ended
  [[ ! -f "$junit" ]] || { cp "$junit" "$PHASES_DIR/junit-$1.xml"; junits+=("$PHASES_DIR/junit-$1.xml"); }
  rm -f "$junit"
}
if [[ $quick == true ]]; then
  phase "tests (cargo nextest), none on a bed or of the release" \
    nextest_in "not ($release_tests | group(bed))" || status=1
  keep_junit main
else
  # The libraries' own tests need no ferry binary: they run while the release still builds.
  phase "library tests (cargo nextest)" nextest_in "not binary_id(ferry::cli)" || status=1
  keep_junit libraries
  # The command line is tested against the portable release itself: what CI tests is what
  # ships, and an optimised binary makes the bed tests, CPU-bound on 2 cores, faster.
  if phase_wait "$release_phase"; then
    export FERRY_BIN="$PWD/dist/ferry-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)-x86_64-linux"
    export FERRY_RELEASE_PUB="$PWD/target/release-test.pub"
  else
    echo "the release build failed (its output is above): the command line is tested with target/debug/ferry" >&2
    export FERRY_BIN="$PWD/target/debug/ferry"
    status=1
  fi
  # The demo beside the tests, on bed 0: it takes the bed's lock as a test does, so no test
  # uses those hosts meanwhile.
  demo_phase="demo (scripts/demo.sh)"
  if [[ -n "${FERRY_TESTBED:-}" ]]; then
    phase_start "$demo_phase" env FERRY_TESTBED="$testbed_dir/bed0" bash scripts/demo.sh
  else
    phase_start "$demo_phase" bash scripts/demo.sh
  fi
  phase "command-line tests (cargo nextest) against the release, the release's own included" \
    nextest_in "binary_id(ferry::cli)" || status=1
  keep_junit cli
  if phase_wait "$demo_phase"; then
    cat "$(phase_log "$demo_phase")"
    echo "demo: ok"
  else
    echo "demo: FAILED"
    status=1
  fi
fi

phase_report
total=$(cat "$PHASES_DIR/total")
python3 scripts/lib/slowest-tests.py 15 "${junits[@]}" | tee "$PHASES_DIR/slowest.txt"
if ((total > budget_seconds)); then
  {
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!! WARNING: the suite took ${total} s, over its budget of ${budget_seconds} s (CI allows 90 minutes)."
    echo "!! Make these faster first (docs/testing.md says how):"
    sed -n '2,6p' "$PHASES_DIR/slowest.txt" | sed 's/^/!!   /'
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  } >&2
fi
exit "$status"
