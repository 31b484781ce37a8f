#!/usr/bin/env bash
# The whole test suite: unit, integration (CLI binary, C and Python over the
# C ABI), property tests, doctests, and every criterion bench run once.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
