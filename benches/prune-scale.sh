#!/usr/bin/env bash
# Prune (and check) at scale: builds a synthetic repository of BLOBS data blobs
# (default 10 million) with `synthrepo`, forgets its old snapshot, and times
# `rdr prune --instant-delete`, then `rdr check`, with GNU time (peak RSS).
# Layout of the data set: benches/src/synth.rs. Figures: docs/performance.md.
#
#   benches/prune-scale.sh                      # 10M blobs, 64 per pack
#   BLOBS=1000000 PER_PACK=64 benches/prune-scale.sh
#
# Needs ~2 GB in WORK (default /tmp/rdr-prune-scale) at 10M blobs. The
# repository key uses --kdf-log-n 14 so the passphrase KDF (32 MiB of
# scrypt memory at the default 15) does not blur prune's own peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
BLOBS=${BLOBS:-10000000}
PER_PACK=${PER_PACK:-64}
WORK=${WORK:-/tmp/rdr-prune-scale}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }

cargo build --release --locked -q -p rdr-cli -p rdr-benches --bin rdr --bin synthrepo
bin=$PWD/target/release
export RDR_PASSWORD=prune-scale-bench
repo=$WORK/repo
rm -rf "$WORK"; mkdir -p "$WORK"

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/out" 2>&1 || { cat "$WORK/out"; exit 1; }
  read -r secs kb < "$WORK/time"
  printf '%-28s %8.2f s %8.1f MiB peak RSS\n' "$label" "$secs" "$(echo "$kb / 1024" | bc -l)"
  sed 's/^/    /' "$WORK/out"
}

echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB"
"$bin/rdr" -r "$repo" init --kdf-log-n 14 > /dev/null
measure "build ($BLOBS blobs)" "$bin/synthrepo" "$repo" --blobs "$BLOBS" --blobs-per-pack "$PER_PACK"
echo "    repository: $(du -sh "$repo" | cut -f1), $(find "$repo/data" -type f | wc -l) pack files"
measure "check (before)" "$bin/rdr" -r "$repo" check
measure "forget --keep-last 1" "$bin/rdr" -r "$repo" forget --keep-last 1
measure "prune --dry-run" "$bin/rdr" -r "$repo" prune --dry-run
measure "prune --instant-delete" "$bin/rdr" -r "$repo" prune --instant-delete
measure "check (after)" "$bin/rdr" -r "$repo" check
echo "    repository: $(du -sh "$repo" | cut -f1), $(find "$repo/data" -type f | wc -l) pack files"
rm -rf "$WORK"
