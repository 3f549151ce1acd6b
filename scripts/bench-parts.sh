#!/usr/bin/env bash
# Split and join, side by side with their peers in one run (medians of RUNS runs each), on the
# 1 GiB bundle that scripts/bench-verify.sh builds:
#   ferry split --part-size 64M --repair 10   against   split -b 64M
#   ferry join with 10 % of the data parts missing (rebuilt), verify included   against   cat
# Peer runs are timed twice: writes only reaching the page cache, and followed by `sync`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
work=$PWD/.work/bench-parts
bundle=$PWD/.work/bench-verify/bundle.tar.zst
key=$PWD/.work/bench-verify/k
[[ -f "$bundle" ]] || RUNS=1 bash scripts/bench-verify.sh >/dev/null
cargo build --release --locked -q
ferry=$PWD/target/release/ferry
mkdir -p "$work"

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

ferry_split() { rm -rf "$work/parts"; "$ferry" split "$bundle" -o "$work/parts" --part-size 64M --repair 10 --key "$key.key"; }
peer_split() { rm -rf "$work/split" && mkdir -p "$work/split" && (cd "$work/split" && split -b 64M "$bundle" p.); }
peer_split_sync() { peer_split && sync; }
lose_ten_percent() {
  local count
  count=$(ls "$work/parts"/*.part | wc -l)
  for i in $(seq 2 10 "$count"); do rm -f "$work/parts"/bench-1."$i"-of-"$count".part; done
}
ferry_join() { rm -f "$work/joined.tar.zst"; "$ferry" join "$work/parts" -o "$work/joined.tar.zst" --trusted-key "$key.pub"; }
peer_join() { cat "$work/split"/p.* >"$work/cat.tar.zst"; }

split_t=() peer_t=() peer_sync_t=() join_t=() cat_t=() split_rss=() join_rss=()
for _ in $(seq "$RUNS"); do
  sync
  split_t+=("$(seconds ferry_split)")
  sync
  peer_t+=("$(seconds peer_split)")
  sync
  peer_sync_t+=("$(seconds peer_split_sync)")
  split_rss+=("$(rm -rf "$work/parts"; rss "$ferry" split "$bundle" -o "$work/parts" --part-size 64M --repair 10 --key "$key.key")")
  lose_ten_percent
  join_t+=("$(seconds ferry_join)")
  cmp -s "$work/joined.tar.zst" "$bundle" || { echo "join is not byte-identical" >&2; exit 1; }
  join_rss+=("$(rm -f "$work/joined.tar.zst"; rss "$ferry" join "$work/parts" -o "$work/joined.tar.zst" --trusted-key "$key.pub")")
  cat_t+=("$(seconds peer_join)")
done
m() { printf '%s\n' "$@" | median; }
s=$(m "${split_t[@]}") p=$(m "${peer_t[@]}") ps=$(m "${peer_sync_t[@]}") j=$(m "${join_t[@]}") c=$(m "${cat_t[@]}")
printf 'bundle: %s bytes; 64 MiB parts; %s runs each (median)\n' "$(stat -c %s "$bundle")" "$RUNS"
printf 'ferry split + 10%% repair:     %6.2f s  peak RSS %s kB\n' "$s" "$(m "${split_rss[@]}")"
printf 'split -b (page cache):        %6.2f s  ratio %.2f\n' "$p" "$(echo "$s / $p" | bc -l)"
printf 'split -b + sync:              %6.2f s  ratio %.2f\n' "$ps" "$(echo "$s / $ps" | bc -l)"
printf 'ferry join, 10%% lost, verify: %6.2f s  peak RSS %s kB\n' "$j" "$(m "${join_rss[@]}")"
printf 'cat:                          %6.2f s  ratio %.2f\n' "$c" "$(echo "$j / $c" | bc -l)"
