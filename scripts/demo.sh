#!/usr/bin/env bash
# Builds rdr and runs its main job on a local repository in a temp directory:
# create a repository, add a second passphrase and an off-site X25519 key, and
# show that each of them opens it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p rdr-cli
rdr=$PWD/target/release/rdr
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RDR_REPOSITORY=$work/repo
printf 'demo password\n' > "$work/pw"; chmod 600 "$work/pw"
printf 'second password\n' > "$work/pw2"; chmod 600 "$work/pw2"
export RDR_PASSWORD_FILE=$work/pw

echo "--- rdr init"
"$rdr" init
echo "--- rdr key add (second passphrase)"
"$rdr" key add --new-password-file "$work/pw2"
echo "--- rdr key add --generate-identity (an off-site break-glass X25519 key, age-keygen format)"
"$rdr" key add --generate-identity "$work/breakglass.txt"
echo "--- open with the identity file alone"
env -u RDR_PASSWORD_FILE RDR_IDENTITY_FILE=$work/breakglass.txt "$rdr" cat config | head -2
echo "--- rdr key list"
"$rdr" key list
echo "--- open with the second password"
RDR_PASSWORD_FILE=$work/pw2 "$rdr" cat config
echo "--- a wrong password is refused (exit 12)"
set +e; env -u RDR_PASSWORD_FILE RDR_PASSWORD=wrong "$rdr" cat config; code=$?; set -e
echo "exit code $code"
[ "$code" -eq 12 ]
