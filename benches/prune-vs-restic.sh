#!/usr/bin/env bash
# Prune side by side with restic on the ../shared/bench data sets: the same
# backups in both tools, `forget --keep-last 1`, then a timed prune (GNU time:
# wall seconds, peak RSS) and the repository size before and after.
#
# Scenarios:
#   random5 : the 1 GiB `random` data set (16 x 64 MiB files) backed up 5
#             times, 3 of the 16 files (~20%) replaced by new random data
#             before each later backup (deterministic, the same for both
#             tools). Unused data sits in whole packs: prune deletes.
#   tree    : the `tree` data set (~60k files from /usr), then the same
#             with every second directory under share/ removed. Unused
#             blobs are spread through packs: prune repacks.
#   pgdump  : dump.sql then dump2.sql (pgbench dump, and after 2000
#             transactions) via stdin. Small: the dumps compress ~100x.
#
#   benches/prune-vs-restic.sh            # both scenarios, markdown table
#   SCENARIOS=pgdump benches/prune-vs-restic.sh
#
# Each tool prunes with its defaults except: rdr --instant-delete (restic
# has no grace period, so both delete in this run). rdr's key uses
# --kdf-log-n 15 (32 MiB of scrypt), close to restic's calibrated scrypt
# (at most 60 MiB), so the KDF does not decide the RSS column.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared/bench}
DATA=${DATA:-/tmp/rdr-bench-data}
WORK=${WORK:-/tmp/rdr-prune-vs-restic}
SCENARIOS=${SCENARIOS:-"random5 tree pgdump"}
export RDR_PASSWORD=bench-password RESTIC_PASSWORD=bench-password
export RESTIC_CACHE_DIR=$WORK/restic-cache

command -v restic >/dev/null && command -v /usr/bin/time >/dev/null && command -v openssl >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic time openssl bc >/dev/null
}
[ -d "$DATA/random" ] || DATA=$DATA "$SHARED/make-datasets.sh" random
[[ " $SCENARIOS " != *" tree "* ]] || [ -d "$DATA/tree" ] || DATA=$DATA "$SHARED/make-datasets.sh" tree
[[ " $SCENARIOS " != *" pgdump "* ]] || [ -f "$DATA/pgdump/dump2.sql" ] || DATA=$DATA "$SHARED/make-datasets.sh" pgdump
cargo build --release --locked -q -p rdr-cli --bin rdr
RDR=$PWD/target/release/rdr
rm -rf "$WORK"; mkdir -p "$WORK"

# the tool's command lines
t_init()   { case $1 in rdr) "$RDR" -r "$2" init --kdf-log-n 15 ;; restic) restic -r "$2" init ;; esac; }
t_backup() { case $1 in rdr) "$RDR" -r "$2" backup --host bench "$3" ;; restic) restic -r "$2" --host bench backup "$3" ;; esac; }
t_stdin()  { case $1 in rdr) "$RDR" -r "$2" backup --host bench --stdin --stdin-filename dump.sql < "$3" ;;
                        restic) restic -r "$2" --host bench backup --stdin --stdin-filename dump.sql < "$3" ;; esac; }
t_forget() { case $1 in rdr) "$RDR" -r "$2" forget --keep-last 1 ;; restic) restic -r "$2" forget --keep-last 1 ;; esac; }
t_check()  { case $1 in rdr) "$RDR" -r "$2" check --read-data ;; restic) restic -r "$2" check --read-data ;; esac; }

# 64 MiB of AES-CTR keystream, as make-datasets.sh, with a key per generation
regen() { # file, generation, number
  head -c $((64 << 20)) /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' $(( $2 * 1000 + $3 )))" -iv "$(printf '%032x' 0)" > "$1"
}

scenario() { # tool, scenario, repo
  case $2 in
    random5)
      local src=$WORK/src
      rm -rf "$src"; cp -r "$DATA/random" "$src"
      t_backup "$1" "$3" "$src" > /dev/null
      for g in 2 3 4 5; do
        for k in 0 1 2; do regen "$src/rand-$(printf '%02d' $(( (g * 3 + k) % 16 ))).bin" "$g" "$k"; done
        t_backup "$1" "$3" "$src" > /dev/null
      done
      rm -rf "$src" ;;
    tree)
      local src=$WORK/src
      rm -rf "$src"; cp -a "$DATA/tree" "$src"
      t_backup "$1" "$3" "$src" > /dev/null
      find "$src/share" -mindepth 1 -maxdepth 1 -type d | sort | awk 'NR % 2 == 0' | xargs rm -rf
      t_backup "$1" "$3" "$src" > /dev/null
      rm -rf "$src" ;;
    pgdump)
      t_stdin "$1" "$3" "$DATA/pgdump/dump.sql" > /dev/null
      t_stdin "$1" "$3" "$DATA/pgdump/dump2.sql" > /dev/null ;;
  esac
}

rows=()
for sc in $SCENARIOS; do
  for tool in rdr restic; do
    repo=$WORK/$tool-$sc
    t_init "$tool" "$repo" > /dev/null 2>&1
    scenario "$tool" "$sc" "$repo"
    t_forget "$tool" "$repo" > /dev/null
    before=$(du -sb "$repo" | cut -f1)
    sync
    case $tool in
      rdr) prune=("$RDR" -r "$repo" prune --instant-delete) ;;
      restic) prune=(restic -r "$repo" prune) ;;
    esac
    /usr/bin/time -f "%e %M" -o "$WORK/time" "${prune[@]}" > "$WORK/prune-$tool-$sc.log" 2>&1 || { cat "$WORK/prune-$tool-$sc.log"; exit 1; }
    read -r secs kb < "$WORK/time"
    after=$(du -sb "$repo" | cut -f1)
    t_check "$tool" "$repo" > "$WORK/check-$tool-$sc.log" 2>&1 || { echo "$tool check failed after prune"; cat "$WORK/check-$tool-$sc.log"; exit 1; }
    rows+=("| $sc | $tool | $secs | $(( kb / 1024 )) | $(( before / 1000000 )) | $(( after / 1000000 )) |")
    echo "$sc $tool: prune ${secs}s, ${kb} KB peak RSS, ${before} -> ${after} bytes" >&2
    rm -rf "$repo"
  done
done

echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), $(free -g | awk '/Mem:/{print $2}') GiB RAM; $(restic version | head -1); rdr $(git rev-parse --short HEAD)"
echo
echo "| scenario | tool | prune wall s | peak RSS MiB | repo MB before | repo MB after |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
rm -rf "$WORK"
