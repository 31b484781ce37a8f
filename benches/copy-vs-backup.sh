#!/usr/bin/env bash
# `rdr copy` against `rdr backup` of the same data, local directory to local
# directory, page cache warm: the copy of a repository holding one backup of
# the data set into a fresh repository with other keys (ids recomputed), and
# into one made with --copy-chunker-params (shared ids); then a second copy
# after one more backup (incremental). Wall time and peak RSS, best of RUNS.
# Warm by default (the data set read once before the backup; the copy reads
# packs with O_DIRECT, so from the disk, whatever the cache holds); COLD=1
# drops the page cache before every operation, so both read from the disk.
#
#   benches/copy-vs-backup.sh [random|tree ...]   (default: random tree)
# Data sets come from ../shared/bench/make-datasets.sh (DATA, default
# /tmp/rdr-bench-data). Needs a release build: cargo build --release -p rdr-cli
set -euo pipefail
cd "$(dirname "$0")/.."
RDR=${RDR:-$PWD/target/release/rdr}
DATA=${DATA:-/tmp/rdr-bench-data}
WORK=${WORK:-/tmp/rdr-copy-bench}
RUNS=${RUNS:-2}
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(random tree)
export RDR_PASSWORD=bench RDR_FROM_PASSWORD=bench-src RDR_CACHE_DIR=$WORK/cache

measure() { # label command...: prints "label seconds rss_mb"
  local label=$1; shift
  local out
  # COLD=1: every operation starts with an empty page cache (root only)
  if [ "${COLD:-0}" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
  /usr/bin/time -o "$WORK.time" -f '%e %M' "$@" >/dev/null 2>&1
  out=$(tail -1 "$WORK.time")
  echo "$label ${out% *} $(( ${out#* } / 1024 ))"
}
best() { sort -k2 -n | head -1; }

printf '| data set | operation | seconds | peak RSS (MB) | vs backup |\n|---|---|---|---|---|\n'
for set in "${sets[@]}"; do
  [ -d "$DATA/$set" ] || DATA=$DATA bash ../shared/bench/make-datasets.sh "$set" >&2
  src=$DATA/$set
  for r in $(seq "$RUNS"); do
    rm -rf "$WORK"; mkdir -p "$WORK"
    RDR_PASSWORD=bench-src "$RDR" -r "$WORK/a" init --kdf-log-n 10 >/dev/null 2>&1
    "$RDR" -r "$WORK/b" init --kdf-log-n 10 >/dev/null 2>&1
    "$RDR" -r "$WORK/c" init --kdf-log-n 10 --from-repo "$WORK/a" --copy-chunker-params >/dev/null 2>&1
    cat "$src"/* >/dev/null 2>&1 || true
    RDR_PASSWORD=bench-src measure backup "$RDR" -r "$WORK/a" backup "$src"
    sync
    measure copy "$RDR" -r "$WORK/b" copy --from-repo "$WORK/a"
    sync
    measure copy-shared-ids "$RDR" -r "$WORK/c" copy --from-repo "$WORK/a"
    # one more (unchanged) backup, then the incremental copy
    RDR_PASSWORD=bench-src "$RDR" -r "$WORK/a" backup --force "$src" >/dev/null 2>&1
    measure copy-again "$RDR" -r "$WORK/b" copy --from-repo "$WORK/a"
  done > "$WORK.$set.txt"
  b=$(grep '^backup ' "$WORK.$set.txt" | best | cut -d' ' -f2)
  for op in backup copy copy-shared-ids copy-again; do
    read -r _ s m < <(grep "^$op " "$WORK.$set.txt" | best)
    printf '| %s | %s | %s | %s | %s |\n' "$set" "$op" "$s" "$m" \
      "$(python3 -c "print(f'{$b/$s:.2f}x' if $s > 0 else '-')")"
  done
done
rm -rf "$WORK"
