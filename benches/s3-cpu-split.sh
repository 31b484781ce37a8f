#!/usr/bin/env bash
# Where the CPU goes in an S3 backup: for each rdr binary given (and each
# upload checksum), three rounds of a 1 GiB backup into a fresh bucket on
# `rclone serve s3` (127.0.0.1), printing wall time, the client's user and
# system CPU and peak RSS (GNU time), and the server's CPU (/proc/PID/stat).
# Usage: benches/s3-cpu-split.sh [RDR_BINARY ...]   (default target/release/rdr)
# Needs root for drop_caches; DATA as in s3-peers.sh.
set -u
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/rdr-bench-data}
W=${WORK:-/tmp/rdr-s3-cpu}; RCLONE=${RCLONE:-$PWD/target/test-venv/bin/rclone}; PORT=${PORT:-9412}
[ $# -gt 0 ] || set -- "$PWD/target/release/rdr"
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret-0123456789 AWS_REGION=us-east-1 RDR_PASSWORD=pw
TICK=$(getconf CLK_TCK)
for round in $(seq 1 ${ROUNDS:-3}); do
for bin in "$@"; do for sum in md5 crc32c; do
  rm -rf $W; mkdir -p $W/server/bench
  $RCLONE serve s3 --addr 127.0.0.1:$PORT --auth-key benchkey,benchsecret-0123456789 --config /dev/null $W/server 2>/dev/null &
  S=$!
  until (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do sleep 0.05; done
  R=s3:http://127.0.0.1:$PORT/bench/r
  $bin -r $R init --kdf-log-n 10 >/dev/null 2>&1
  sync; echo 3 > /proc/sys/vm/drop_caches
  s0=$(awk '{print $14+$15}' /proc/$S/stat)
  /usr/bin/time -f "%e s  %U u %S s  %M KB" -o $W/t env RDR_S3_CHECKSUM=$sum $bin -r $R --no-cache backup -q "$DATA/random" >/dev/null 2>$W/err || tail -3 $W/err
  s1=$(awk '{print $14+$15}' /proc/$S/stat)
  echo "$(basename $bin) $sum round $round: $(cat $W/t)  server $(( (s1 - s0) * 1000 / TICK )) ms CPU"
  kill $S; wait $S 2>/dev/null
done; done; done
