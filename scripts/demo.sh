#!/usr/bin/env bash
# Builds rdr and runs its main job on a local repository in a temp directory:
# create a repository with a break-glass X25519 key, back up a directory tree
# and a database-style dump (through a command), change the tree and back it
# up again, restore both and compare byte for byte, and refuse a wrong password.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p rdr-cli
rdr=$PWD/target/release/rdr
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RDR_REPOSITORY=$work/repo
printf 'demo password\n' > "$work/pw"; chmod 600 "$work/pw"
export RDR_PASSWORD_FILE=$work/pw

echo "--- a tree to protect: config files, a 64 MiB data file, a symlink, a hard link, a sparse file"
src=$work/srv
mkdir -p "$src/etc" "$src/data"
for i in $(seq 1 200); do printf 'setting_%d = %d\n' "$i" "$RANDOM" > "$src/etc/app$i.conf"; done
head -c 64M /dev/urandom > "$src/data/blob.bin"
ln -s ../data/blob.bin "$src/etc/current"
ln "$src/etc/app1.conf" "$src/etc/app1.hardlink"
truncate -s 1G "$src/data/sparse.img"; printf 'tail' >> "$src/data/sparse.img"

echo "--- rdr init, and an off-site break-glass identity"
"$rdr" init
"$rdr" key add --generate-identity "$work/breakglass.txt"

echo "--- rdr backup (tree)"
"$rdr" backup "$src" --tag demo
echo "--- rdr backup --stdin-from-command (a dump; a failing command would fail the backup)"
"$rdr" backup --stdin-from-command --stdin-filename appdb.sql -- \
  sh -c 'for i in $(seq 1 20000); do echo "INSERT INTO accounts VALUES ($i, $((i * 7)));"; done'

echo "--- change one file, back up again: only the change is read and stored"
echo "setting_1 = changed" > "$src/etc/app1.conf"
"$rdr" backup "$src" --tag demo
"$rdr" snapshots
latest_two=$("$rdr" snapshots --json --path "$src" | python3 -c 'import json,sys; print(" ".join(s["short_id"] for s in json.load(sys.stdin)[-2:]))')
"$rdr" diff $latest_two

echo "--- restore the tree with the break-glass identity alone, verify, compare"
env -u RDR_PASSWORD_FILE RDR_IDENTITY_FILE="$work/breakglass.txt" \
  "$rdr" restore latest --path "$src" --target "$work/restore" --verify
diff -r "$src" "$work/restore$src" && echo "restored tree is identical"
[ "$(stat -c %i "$work/restore$src/etc/app1.conf")" = "$(stat -c %i "$work/restore$src/etc/app1.hardlink")" ] && echo "hard link kept"
echo "sparse file allocates $(du -k "$work/restore$src/data/sparse.img" | cut -f1) KiB for $(stat -c %s "$work/restore$src/data/sparse.img") bytes"

echo "--- rdr dump the database stream and compare"
"$rdr" dump latest appdb.sql --path /appdb.sql > "$work/appdb.sql"
sh -c 'for i in $(seq 1 20000); do echo "INSERT INTO accounts VALUES ($i, $((i * 7)));"; done' | cmp - "$work/appdb.sql" && echo "dump is identical"
"$rdr" stats

echo "--- a wrong password is refused (exit 12)"
set +e; env -u RDR_PASSWORD_FILE RDR_PASSWORD=wrong "$rdr" snapshots; code=$?; set -e
echo "exit code $code"
[ "$code" -eq 12 ]
echo "demo ok"
