#!/usr/bin/env bash
# A backup through the Python package against the same backup with the CLI:
# each into a fresh local repository, page cache warm, alternating, best of
# RUNS; wall time of the whole process (interpreter start and import
# included) and peak RSS.
#
#   benches/python-vs-cli.sh [random|tree ...]   (default: random)
# Data sets come from ../shared/bench/make-datasets.sh (DATA, default
# /tmp/rdr-bench-data). Builds rdr and librdr in release, and the package
# into a venv under $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/rdr-bench-data}
WORK=${WORK:-/tmp/rdr-py-bench}
RUNS=${RUNS:-5}
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(random)
cargo build --release --locked -p rdr-cli -p rdr-ffi >&2
RDR=$PWD/target/release/rdr
rm -rf "$WORK"; mkdir -p "$WORK"
python3 -m venv "$WORK/venv" >&2
RDR_LIB=$PWD/target/release/librdr.so "$WORK/venv/bin/pip" install --quiet \
  --disable-pip-version-check ./rdr-ffi >&2
PY=$WORK/venv/bin/python
export RDR_PASSWORD=bench

measure() { # label command...: prints "label seconds rss_mb"
  local label=$1; shift
  /usr/bin/time -o "$WORK/time" -f '%e %M' "$@" >/dev/null 2>&1
  local out; out=$(tail -1 "$WORK/time")
  echo "$label ${out% *} $(( ${out#* } / 1024 ))"
}
best() { sort -k2 -n | head -1; }

printf '| data set | front end | seconds | peak RSS (MB) | Python / CLI |\n|---|---|---|---|---|\n'
for set in "${sets[@]}"; do
  [ -d "$DATA/$set" ] || DATA=$DATA bash ../shared/bench/make-datasets.sh "$set" >&2
  src=$DATA/$set
  cat "$src"/* >/dev/null 2>&1 || true
  for r in $(seq "$RUNS"); do
    rm -rf "$WORK/cli" "$WORK/py"
    "$RDR" -r "$WORK/cli" init --kdf-log-n 10 >/dev/null 2>&1
    "$RDR" -r "$WORK/py" init --kdf-log-n 10 >/dev/null 2>&1
    measure cli "$RDR" -r "$WORK/cli" backup "$src"
    sync
    measure python "$PY" -c "import rdr,sys
with rdr.Repository.open(sys.argv[1], password='bench') as r:
    r.backup([sys.argv[2]])" "$WORK/py" "$src"
    sync
  done > "$WORK/$set.txt"
  c=$(grep '^cli ' "$WORK/$set.txt" | best | cut -d' ' -f2)
  for fe in cli python; do
    read -r _ s m < <(grep "^$fe " "$WORK/$set.txt" | best)
    printf '| %s | %s | %s | %s | %s |\n' "$set" "$fe" "$s" "$m" \
      "$(python3 -c "print(f'{$s/$c:.3f}')")"
  done
done
