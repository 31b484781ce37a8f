#!/usr/bin/env bash
# The whole test suite: unit, integration (CLI binary, C and Python over the
# C ABI), property tests, the public-API listing of rdr-core, doctests, and
# every criterion bench run once.
set -euo pipefail
cd "$(dirname "$0")/.."
# The shells alone, where rdr-core's `internals` feature is off: they must
# build against the public API only.
cargo check -p rdr-cli -p rdr-ffi --locked
# rdr-core's API documentation is complete and its links resolve.
RUSTDOCFLAGS="-D missing_docs -D rustdoc::broken_intra_doc_links" \
  cargo doc -p rdr-core --no-deps --locked
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
