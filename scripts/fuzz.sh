#!/usr/bin/env bash
# Runs the cargo-fuzz targets under fuzz/ (nightly toolchain; cargo-fuzz is
# installed when missing). Each target starts from its committed seeds in
# fuzz/seeds/TARGET and keeps what it finds in target/fuzz-corpus/TARGET.
#
#   scripts/fuzz.sh                  every target for 30 s, two at a time (CI)
#   SECONDS_EACH=600 scripts/fuzz.sh tree pack
#   RUNS=10000000 JOBS=1 scripts/fuzz.sh   the long run: executions per target
#   SANITIZER=address scripts/fuzz.sh      with AddressSanitizer (slower)
#
# Without a sanitizer by default: rdr's own code forbids `unsafe`, so what
# the fuzzer looks for is a panic, an abort, a hang (-timeout) or runaway
# memory (-rss_limit_mb), which libFuzzer catches without one.
# Prints one line per target (executions, rate, corpus) and exits non-zero
# when a target fails, leaving the input in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-30}
runs=${RUNS:-}
jobs=${JOBS:-2}
san=${SANITIZER:-none}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
  echo "fuzz: needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo "+$toolchain" fuzz list)
fi
(cd fuzz && cargo "+$toolchain" fuzz build -O -s "$san")
mkdir -p target/fuzz-corpus
limit=(-max_total_time="$secs")
[ -n "$runs" ] && limit=(-runs="$runs")

one() {
  local t=$1 corpus=target/fuzz-corpus/$1 log=target/fuzz-corpus/$1.log
  mkdir -p "$corpus"
  if ! (cd fuzz && cargo "+$toolchain" fuzz run -O -s "$san" "$t" "../$corpus" "seeds/$t" -- \
      "${limit[@]}" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10) >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz: $t FAILED (log: $log, input in fuzz/artifacts/$t)" >&2
    return 1
  fi
  local execs rate secs_used
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  printf 'fuzz: %-9s %12s executions %8s/s  corpus %s\n' "$t" "$execs" "$rate" "$(ls "$corpus" | wc -l)"
}

failed=0
running=0
for t in "${targets[@]}"; do
  one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
