# Phases of a script, timed: sourced by scripts/test.sh.
#
#   phase NAME COMMAND...        run COMMAND in the foreground, timed
#   phase_start NAME COMMAND...  run COMMAND in the background, timed, its output kept in a log
#   phase_wait NAME              wait for a background phase; print its log and fail if it failed
#   phase_report                 one line per phase: seconds, and & for those run in the background
#
# Timings go to $PHASES_DIR/phases.tsv (name, start, end, exit status, background or not).

PHASES_DIR=${PHASES_DIR:-target/test-times}
mkdir -p "$PHASES_DIR"
: >"$PHASES_DIR/phases.tsv"
declare -A PHASE_PID=()
PHASES_STARTED=$(date +%s.%N)

phase_record() { # NAME START STATUS MODE
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(date +%s.%N)" "$3" "$4" >>"$PHASES_DIR/phases.tsv"
}

phase() {
  local name=$1 start status=0
  shift
  echo "== $name"
  start=$(date +%s.%N)
  "$@" || status=$?
  phase_record "$name" "$start" "$status" foreground
  return "$status"
}

phase_log() { echo "$PHASES_DIR/$(echo "$1" | tr -c 'a-zA-Z0-9_.\n-' '_').log"; }

phase_start() {
  local name=$1 log
  shift
  log=$(phase_log "$name")
  echo "== $name (in the background; its output: $log)"
  (
    start=$(date +%s.%N)
    status=0
    "$@" || status=$?
    phase_record "$name" "$start" "$status" background
    exit "$status"
  ) >"$log" 2>&1 </dev/null &
  PHASE_PID[$name]=$!
}

phase_wait() {
  local name=$1 status=0
  [[ -n "${PHASE_PID[$name]:-}" ]] || return 0
  wait "${PHASE_PID[$name]}" || status=$?
  unset "PHASE_PID[$name]"
  if ((status != 0)); then
    echo "== $name FAILED (exit $status); its output:" >&2
    tail -n 60 "$(phase_log "$name")" >&2
  fi
  return "$status"
}

# Kill what is still running in the background (on an early exit).
phase_stop_all() {
  local name
  for name in "${!PHASE_PID[@]}"; do
    kill -- "${PHASE_PID[$name]}" 2>/dev/null || true
  done
}

phase_report() {
  local total
  total=$(awk -v s="$PHASES_STARTED" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')
  echo "== wall time per phase (seconds; & ran in the background, beside the phases after it)"
  awk -F'\t' '{ printf "  %7.1f %s %s%s\n", $3 - $2, ($5 == "background" ? "&" : " "), $1, ($4 == 0 ? "" : "  (FAILED, exit " $4 ")") }' \
    "$PHASES_DIR/phases.tsv"
  printf '  %7d   total\n' "$total"
  echo "$total" >"$PHASES_DIR/total"
}
