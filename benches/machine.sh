#!/usr/bin/env bash
# The facts a benchmark table needs to be read on another machine, and the
# hardware bounds of rdr's rows on this one:
#
#   benches/machine.sh [RDR] [DATA] [REPOS] [RES]
#
# * the CPU model, its cores and its SIMD features (what BLAKE3, zstd and
#   XChaCha20 use);
# * the rates of the disk that holds REPOS, by dd (1 GiB each): writes with
#   O_DIRECT, buffered writes with an fdatasync at the end, O_DIRECT reads
#   of that fresh file, and O_DIRECT reads of data at rest: two dd streams
#   over the random data set's files (written before the run), when they
#   are on the same disk;
# * rdr's pipeline times without a disk, best of 3: backup of each data set
#   into a repository in /dev/shm (pgdump: dump.sql through stdin, as the
#   harness does), `check --read-data` of it, and a restore from it into
#   /dev/shm.
#
# * the kernel's own metadata walk of the tree data set: `find` doing
#   readdir and lstat of every entry (one thread, warm cache, best of 3),
#   which a no-change backup cannot do without; the tree's no-change row
#   is bounded by it.
#
# A row's bound is the larger of its pipeline time and the time the disk
# needs for its bytes: a backup writes about the data set's size (the sets
# do not compress), a check reads the repository, a restore reads the
# repository and writes the data set (at the O_DIRECT rate: what the device
# can take, whatever the kernel's buffered path costs). Reads count at the
# at-rest rate where there is one: on the project's VMs a file just written
# reads faster than files written minutes before (2.6 against 1.4 GB/s one
# day), and packs are read at the lower rate. Prints
# Markdown; with RES, also writes RES/bounds.csv (dataset,op,bound_s) for
# benches/peers-table.py. benches/peers.sh puts both above its table.
set -euo pipefail
RDR=${1:-${RDR:-target/release/rdr}}
DATA=${2:-${DATA:-/tmp/rdr-bench-data}}
REPOS=${3:-${REPOS:-/tmp/rdr-bench-repos}}
RES=${4:-}
mkdir -p "$REPOS"

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
simd=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
  grep -xE 'sse4_1|sse4_2|avx|avx2|avx512f|avx512vl|avx512bw|aes|vaes|vpclmulqdq|sha_ni' |
  sort | tr '\n' ' ')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)

# dd's last line: "... copied, 2.3 s, 469 MB/s"
rate() { tail -1 | sed -E 's/.*, ([0-9.]+ [kMG]?B\/s)$/\1/'; }
mbps() { awk '{ v = $1; if ($2 ~ /^GB/) v *= 1000; if ($2 ~ /^kB/) v /= 1000; print v }' <<<"$1"; }
probe=$REPOS/.dd-probe
wdirect=$(dd if=/dev/zero of="$probe" bs=1M count=1024 oflag=direct 2>&1 | rate) || wdirect="0 B/s"
rm -f "$probe"
wbuf=$(dd if=/dev/zero of="$probe" bs=1M count=1024 conv=fdatasync 2>&1 | rate)
rdirect=$(dd if="$probe" of=/dev/null bs=1M iflag=direct 2>&1 | rate) || rdirect="0 B/s"
rm -f "$probe"
wdirect_mbps=$(mbps "$wdirect")
write=$(printf '%s\n%s\n' "$(mbps "$wdirect")" "$(mbps "$wbuf")" | sort -n | tail -1)
read=$(mbps "$rdirect")
# at rest: two streams, as check and restore read packs two or more at a time
rest=""
if [ -d "$DATA/random" ] && [ "$(stat -c %d "$DATA/random")" = "$(stat -c %d "$REPOS")" ]; then
  mapfile -t files < <(find "$DATA/random" -type f | sort)
  bytes=$(stat -c %s "${files[@]}" | awk '{ s += $1 } END { print s }')
  t0=$(date +%s.%N)
  for half in 0 1; do
    ( for i in "${!files[@]}"; do
        if [ $((i % 2)) = "$half" ]; then dd if="${files[$i]}" of=/dev/null bs=1M iflag=direct status=none; fi
      done ) &
  done
  wait
  t1=$(date +%s.%N)
  rest=$(awk -v b="$bytes" -v a="$t0" -v c="$t1" 'BEGIN { printf "%.0f", b / 1e6 / (c - a) }')
  read=$rest
fi

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
least() { tr ' ' '\n' | grep . | sort -g | head -1; }
rdr() { RDR_PASSWORD=bound "$RDR" -q "$@"; }

echo "Machine: $cpu, $(nproc) cores, $mem; SIMD: $simd"
echo
echo "Disk of the repositories ($REPOS), dd of 1 GiB: O_DIRECT writes $wdirect, buffered writes with fdatasync $wbuf, O_DIRECT reads $rdirect${rest:+; O_DIRECT reads of the random data set at rest, two streams, $rest MB/s (the rate the bounds use)}."
echo
echo "| data set | size | op | pipeline in /dev/shm (s) | disk time (s) | bound (s) |"
echo "|---|---|---|---|---|---|"
if [ -n "$RES" ]; then echo "dataset,op,bound_s" > "$RES/bounds.csv"; fi
for ds in random tree pgdump; do
  [ -d "$DATA/$ds" ] || continue
  # pgdump: one dump through stdin, as the harness backs it up
  if [ "$ds" = pgdump ]; then mb=$(du -sm "$DATA/pgdump/dump.sql" | cut -f1); else mb=$(du -sm "$DATA/$ds" | cut -f1); fi
  b="" c="" r="" stored=0
  for _ in 1 2 3; do
    repo=$(mktemp -d /dev/shm/rdr-bound.XXXXXX)
    rdr -r "$repo" init --kdf-log-n 10 >/dev/null
    if [ "$ds" = pgdump ]; then
      b="$b $(secs rdr -r "$repo" backup --stdin --stdin-filename dump.sql <"$DATA/pgdump/dump.sql")"
    else
      b="$b $(secs rdr -r "$repo" backup "$DATA/$ds")"
    fi
    c="$c $(secs rdr -r "$repo" check --read-data)"
    r="$r $(secs rdr -r "$repo" restore latest --target "$repo.restore")"
    stored=$(du -sm "$repo" | cut -f1)
    rm -rf "$repo" "$repo.restore"
  done
  for op in backup check restore; do
    case $op in
      backup) p=$(least <<<"$b"); d=$(awk -v m="$mb" -v r="$write" 'BEGIN { printf "%.2f", m * 1.048576 / r }') ;;
      check) p=$(least <<<"$c"); d=$(awk -v m="$stored" -v r="$read" 'BEGIN { printf "%.2f", m * 1.048576 / r }') ;;
      # reads the repository and writes the data, on the same disk
      restore) p=$(least <<<"$r"); d=$(awk -v m="$stored" -v r="$read" -v n="$mb" -v w="$wdirect_mbps" 'BEGIN { printf "%.2f", m * 1.048576 / r + n * 1.048576 / w }') ;;
    esac
    bound=$(awk -v p="$p" -v d="$d" 'BEGIN { printf "%.2f", (p > d ? p : d) }')
    printf '| %s | %s MiB | %s | %.2f | %s | %s |\n' "$ds" "$mb" "$op" "$p" "$d" "$bound"
    if [ -n "$RES" ]; then echo "$ds,$op,$bound" >> "$RES/bounds.csv"; fi
  done
done
if [ -d "$DATA/tree" ]; then
  w=""
  for _ in 1 2 3; do w="$w $(secs find "$DATA/tree" -printf '%s %T@\n')"; done
  walk=$(least <<<"$w")
  n=$(find "$DATA/tree" | wc -l)
  echo
  printf "The kernel's metadata walk of the tree (find: readdir and lstat of its %s entries, one thread, best of 3): %.2f s; the bound of its no-change backup.\n" "$n" "$walk"
  if [ -n "$RES" ]; then printf 'tree,nochange,%.2f\n' "$walk" >> "$RES/bounds.csv"; fi
fi
