#!/usr/bin/env bash
# rdr beside its peers (restic, borg, rustic) on the shared data sets, with the
# shared harness (../shared/bench): same data, same machine, one run.
#
#   benches/peers.sh                      # everything (installs peers; rustic builds ~20 min)
#   TOOLS="rdr restic" DATASETS=pgdump RUNS=1 benches/peers.sh   # a quick look
#
# Writes the raw CSV and logs to target/bench-results/ and the side-by-side
# table (ratio to the best peer on every row) to target/bench-results/peers.md,
# below the machine's facts and bounds (benches/machine.sh: CPU, SIMD, the
# disk's dd write rates, the backup pipeline's time without a disk);
# docs/performance.md quotes it. Env is passed through to the harness (RUNS,
# CHECK_RUNS, SKIP_INSTALL, DATA, REPOS).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
[ -x "$SHARED/peers.sh" ] || { echo "shared harness not found at $SHARED (set SHARED=...)" >&2; exit 1; }

cargo build --release --locked -p rdr-cli
export RDR=$ROOT/target/release/rdr
export RES=${RES:-$ROOT/target/bench-results}
export TOOLS=${TOOLS:-"rdr restic borg rustic"}
export EXTRA=${EXTRA:-""}
export SKIP_PRIMITIVES=${SKIP_PRIMITIVES:-1}
mkdir -p "$RES"

"$ROOT/benches/machine.sh" "$RDR" "${DATA:-/tmp/rdr-bench-data}" "${REPOS:-/tmp/rdr-bench-repos}" "$RES" > "$RES/machine.md"
"$SHARED/peers.sh"

{
  echo "Measured $(date -u +%F) by \`benches/peers.sh\` (TOOLS=\"$TOOLS\" RUNS=${RUNS:-3})."
  echo
  sed 's/^/    /' "$RES/versions.txt"
  echo
  cat "$RES/machine.md"
  echo
  python3 "$ROOT/benches/peers-table.py" "$RES"
} > "$RES/peers.md"
cat "$RES/peers.md"
