#!/usr/bin/env bash
# The facts a benchmark table needs to be read on another machine, and the
# hardware bounds of rdr's rows on this one:
#
#   benches/machine.sh [RDR] [DATA] [REPOS]
#
# * the CPU model, its cores and its SIMD features (what BLAKE3, zstd and
#   XChaCha20 use);
# * the write rates of the disk that holds REPOS, by dd: O_DIRECT, and
#   buffered with an fdatasync at the end (1 GiB each);
# * the pipeline time: rdr's backup of DATA/random and DATA/tree into a
#   repository in /dev/shm (no disk), best of 3.
#
# The bound of a backup row is the larger of its pipeline time and the time
# the disk takes to write what the backup stores (the data sets do not
# compress, so about their size). Prints Markdown; benches/peers.sh puts it
# above its table.
set -euo pipefail
RDR=${1:-${RDR:-target/release/rdr}}
DATA=${2:-${DATA:-/tmp/rdr-bench-data}}
REPOS=${3:-${REPOS:-/tmp/rdr-bench-repos}}
mkdir -p "$REPOS"

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
simd=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
  grep -xE 'sse4_1|sse4_2|avx|avx2|avx512f|avx512vl|avx512bw|aes|vaes|vpclmulqdq|sha_ni' |
  sort | tr '\n' ' ')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)

# dd prints "... copied, 2.3 s, 469 MB/s" on its last line
rate() { tail -1 | sed -E 's/.*, ([0-9.]+ [kMG]?B\/s)$/\1/'; }
probe=$REPOS/.dd-probe
direct=$(dd if=/dev/zero of="$probe" bs=1M count=1024 oflag=direct 2>&1 | rate) || direct="refused"
rm -f "$probe"
buffered=$(dd if=/dev/zero of="$probe" bs=1M count=1024 conv=fdatasync 2>&1 | rate)
rm -f "$probe"
mbps() { # "469 MB/s" -> 469
  awk '{ v = $1; if ($2 ~ /^GB/) v *= 1000; if ($2 ~ /^kB/) v /= 1000; print v }' <<<"$1"
}

# the pipeline without a disk: backups into /dev/shm
pipeline() {
  local ds=$1 best=""
  [ -d "$DATA/$ds" ] || { echo "-"; return; }
  for _ in 1 2 3; do
    local repo
    repo=$(mktemp -d /dev/shm/rdr-bound.XXXXXX)
    RDR_PASSWORD=bound "$RDR" -q -r "$repo" init --kdf-log-n 10 >/dev/null
    local t0 t1
    t0=$(date +%s.%N)
    RDR_PASSWORD=bound "$RDR" -q -r "$repo" backup "$DATA/$ds" >/dev/null
    t1=$(date +%s.%N)
    rm -rf "$repo"
    best=$(awk -v a="$best" -v t0="$t0" -v t1="$t1" 'BEGIN { b = t1 - t0; if (a == "" || b < a) print b; else print a }')
  done
  printf '%.2f' "$best"
}
size_mb() { du -sm "$DATA/$1" 2>/dev/null | cut -f1; }

echo "Machine: $cpu, $cores cores, $mem; SIMD: $simd"
echo "Disk of the repositories ($REPOS): O_DIRECT writes $direct, buffered writes with fdatasync $buffered (dd, 1 GiB)"
echo
echo "| backup bound | data | pipeline in /dev/shm (s) | disk write at the faster rate (s) | bound (s) |"
echo "|---|---|---|---|---|"
fast=$(printf '%s\n%s\n' "$(mbps "$direct")" "$(mbps "$buffered")" | sort -n | tail -1)
for ds in random tree pgdump; do
  [ -d "$DATA/$ds" ] || continue
  mb=$(size_mb "$ds")
  p=$(pipeline "$ds")
  d=$(awk -v mb="$mb" -v r="$fast" 'BEGIN { printf "%.2f", mb * 1.048576 / r }')
  b=$(awk -v p="$p" -v d="$d" 'BEGIN { print (p > d ? p : d) }')
  echo "| $ds | $mb MiB | $p | $d | $b |"
done
