# Sourced by scripts/test.sh: `linted_cargo ARGS...` runs cargo with clippy-driver compiling the
# workspace's own crates (dependencies still go to rustc), so one build both lints and builds:
# `cargo clippy` would check every dependency a second time, which on 2 cores cost as much as
# the test build itself. Every cargo call of a run goes through here, so the crates built for
# the lints are the ones the tests run (the wrapper is part of cargo's fingerprint).
#
# CLIPPY_ARGS is how cargo-clippy hands its `-- ARGS` to clippy-driver. Should a future clippy
# stop reading it, the lints would only warn: `linted_build` fails on any warning as well.

linted_cargo() {
  local driver
  driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver) || {
    echo "clippy-driver not found: rustup component add clippy" >&2
    return 1
  }
  RUSTC_WORKSPACE_WRAPPER="$driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
    cargo "$@"
}

# linted_build ARGS...: `linted_cargo build ARGS...`, failing on any warning it prints
linted_build() {
  local log status
  log=$(mktemp)
  set +e
  linted_cargo build "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  if ((status == 0)) && grep -q '^warning' "$log"; then
    echo "the build printed warnings (above): the suite treats them as errors" >&2
    status=1
  fi
  rm -f "$log"
  return "$status"
}
