#!/usr/bin/env bash
# Does a backup overlap its disk writes with chunking, hashing and sealing?
# Slows the repository's disk down with the kernel's block throttle and
# compares rdr's first backup of a data set with the two times it could at
# best overlap:
#
#   sudo benches/slow-disk.sh [RATES] [DATASET]
#
# RATES: write limits in MB/s, space separated (default "450 800": 450 is
# the O_DIRECT rate of the second machine in docs/performance.md, 800 puts
# the disk's time next to the pipeline's on the project's VM). DATASET:
# random (default), tree or pgdump, from $DATA (/tmp/rdr-bench-data, see
# ../shared/bench/make-datasets.sh).
#
# For each rate it measures, best of $RUNS (3):
# * device: dd of 1 GiB with O_DIRECT under the limit, scaled to the size
#   of the repository the backup writes (the time the disk needs for its
#   bytes; the pgdump set compresses about 100×);
# * pipeline: the same backup into a repository in /dev/shm (no disk);
# * rdr: the backup into $REPOS (default target/slow-disk) under the limit.
# Overlapped, rdr approaches max(device, pipeline); serialized, their sum.
#
# Needs root and the block throttle: cgroup v1's blkio controller, or
# cgroup v2 with the io controller enabled at its root. With cgroup v1 only
# direct writes are throttled (buffered writeback is not charged), so the
# figures are for staging with O_DIRECT, what rdr's probe picks where it
# is faster.
set -euo pipefail
RATES=${1:-450 800}
DS=${2:-random}
RUNS=${RUNS:-3}
RDR=${RDR:-target/release/rdr}
DATA=${DATA:-/tmp/rdr-bench-data}
REPOS=${REPOS:-target/slow-disk}
export RDR_PASSWORD=slow-disk-bench

[ "$(id -u)" = 0 ] || { echo "slow-disk.sh: needs root (the block throttle)" >&2; exit 2; }
[ -x "$RDR" ] || cargo build --release --locked -p rdr-cli
[ -e "$DATA/$DS" ] || { echo "slow-disk.sh: no data set $DATA/$DS" >&2; exit 2; }
mkdir -p "$REPOS"
REPOS=$(cd "$REPOS" && pwd)

# the whole disk under REPOS (throttles apply to disks, not partitions)
src=$(findmnt -no SOURCE --target "$REPOS")
parent=$(lsblk -no PKNAME "$src" 2>/dev/null | head -1 || true)
disk=/dev/${parent:-$(basename "$src")}
majmin=$(lsblk -dno MAJ:MIN "$disk" | tr -d ' ')

if [ -d /sys/fs/cgroup/blkio ]; then
    CG=/sys/fs/cgroup/blkio/rdr-slow-disk
    mkdir -p "$CG"
    limit() { echo "$majmin $(($1 * 1000000))" >"$CG/blkio.throttle.write_bps_device"; }
    unlimit() { echo "$majmin 0" >"$CG/blkio.throttle.write_bps_device"; }
    procs=$CG/tasks
elif grep -qw io /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    CG=/sys/fs/cgroup/rdr-slow-disk
    mkdir -p "$CG"
    limit() { echo "$majmin wbps=$(($1 * 1000000))" >"$CG/io.max"; }
    unlimit() { echo "$majmin wbps=max" >"$CG/io.max"; }
    procs=$CG/cgroup.procs
else
    echo "slow-disk.sh: no block throttle (cgroup v1 blkio or v2 io) here" >&2
    exit 2
fi
cleanup() {
    unlimit 2>/dev/null || true
    rmdir "$CG" 2>/dev/null || true
    rm -rf "$REPOS/repo" "$REPOS/cache" "$REPOS/dd" /dev/shm/rdr-slow-disk
}
trap cleanup EXIT

# runs "$@" inside the throttled group
throttled() { bash -c 'echo $$ >"$0"; exec "$@"' "$procs" "$@"; }

# seconds of one first backup into repository $1 (run through $2: "" or
# throttled), and the bytes it wrote
backup() {
    local repo=$1 wrap=$2
    rm -rf "$repo" "$repo.cache"
    export RDR_CACHE_DIR=$repo.cache
    "$RDR" -q -r "$repo" init >/dev/null
    sync
    local t0 t1
    t0=$(date +%s.%N)
    if [ "$DS" = pgdump ]; then
        $wrap "$RDR" -q -r "$repo" backup --stdin \
            --stdin-filename dump.sql <"$DATA/pgdump/dump.sql" >/dev/null
    else
        $wrap "$RDR" -q -r "$repo" backup "$DATA/$DS" >/dev/null
    fi
    t1=$(date +%s.%N)
    local bytes
    bytes=$(du -sb "$repo" | cut -f1)
    rm -rf "$repo" "$repo.cache"
    awk -v a="$t0" -v b="$t1" -v n="$bytes" 'BEGIN {print b - a, n}'
}
best() { sort -g | head -1; }

mkdir -p /dev/shm/rdr-slow-disk
read -r pipeline bytes < <(for _ in $(seq "$RUNS"); do backup /dev/shm/rdr-slow-disk/repo ""; done | best)

echo "Backup of $DS ($(du -sm "$DATA/$DS" | cut -f1) MiB; the repository $((bytes >> 20)) MiB), $disk ($majmin) throttled; best of $RUNS; rdr $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "| write limit | device time (s) | pipeline in /dev/shm (s) | max (s) | sum (s) | rdr (s) | rdr / max |"
echo "|---|---|---|---|---|---|---|"
for rate in $RATES; do
    limit "$rate"
    dd_s=$(for _ in $(seq "$RUNS"); do
        rm -f "$REPOS/dd"
        throttled dd if=/dev/zero of="$REPOS/dd" bs=1M count=1024 oflag=direct 2>&1 |
            awk '/copied/ {print $(NF-3)}'
    done | best)
    rm -f "$REPOS/dd"
    device=$(awk -v t="$dd_s" -v n="$bytes" 'BEGIN {print t * n / 1073741824}')
    rdr=$(for _ in $(seq "$RUNS"); do backup "$REPOS/repo" throttled; done | best | cut -d' ' -f1)
    unlimit
    awk -v r="$rate" -v d="$device" -v p="$pipeline" -v x="$rdr" 'BEGIN {
        m = d > p ? d : p
        printf "| %s MB/s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f× |\n", r, d, p, m, d + p, x, x / m
    }'
done
