#!/usr/bin/env bash
# The main job while the node is being built: installs what is missing, builds, and runs a local
# demo of Cairn's verifiable log through the CLI — append entries, print a checkpoint, prove and
# verify an inclusion proof and a consistency proof. The store is left in ./demo-log/ to explore.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

CAIRN=build/bin/cairn
DB=demo-log/store
rm -rf demo-log && mkdir -p demo-log

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

say "Append 1,000 entries (one per line) as one durable batch"
for i in $(seq 0 999); do echo "sensor-7 reading $i: $((i * 37 % 1000)) mV"; done >demo-log/entries.txt
run $CAIRN log append --db $DB demo-log/entries.txt

say "The checkpoint a verifier keeps: tree size and RFC 9162 root"
run $CAIRN log checkpoint --db $DB --size 1000 | tee demo-log/checkpoint-1000.json
OLD_ROOT=$(sed 's/.*"root":"\([0-9a-f]*\)".*/\1/' demo-log/checkpoint-1000.json)

say "Append 500 more entries; the log grows, old entries never change"
for i in $(seq 1000 1499); do echo "sensor-7 reading $i: $((i * 37 % 1000)) mV"; done >demo-log/more.txt
run $CAIRN log append --db $DB demo-log/more.txt
run $CAIRN log checkpoint --db $DB | tee demo-log/checkpoint.json
ROOT=$(sed 's/.*"root":"\([0-9a-f]*\)".*/\1/' demo-log/checkpoint.json)

say "Prove that entry 42 is in the log of 1,500 entries"
run $CAIRN log prove-inclusion --db $DB --index 42 | tee demo-log/inclusion.json

say "Verify it offline, knowing only the entry and the checkpoint root"
run $CAIRN log verify-inclusion --root "$ROOT" --leaf-text "sensor-7 reading 42: 554 mV" \
  --proof demo-log/inclusion.json

say "A forged entry does not verify (exit code 1)"
set +e
$CAIRN log verify-inclusion --root "$ROOT" --leaf-text "sensor-7 reading 42: 999 mV" \
  --proof demo-log/inclusion.json
echo "exit code $?"
set -e

say "Prove the log of 1,500 extends the log of 1,000 (no history was rewritten)"
run $CAIRN log prove-consistency --db $DB --first 1000 | tee demo-log/consistency.json
run $CAIRN log verify-consistency --first-root "$OLD_ROOT" --second-root "$ROOT" \
  --proof demo-log/consistency.json

say "Done. The store is in $DB; try: $CAIRN log"
