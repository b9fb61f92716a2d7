#!/usr/bin/env bash
# End-to-end test of `cairn log`: append, checkpoint, prove and verify, the RFC 9162 vectors
# through the CLI, tampered proofs, and bad input with its exit codes and error names.
set -u
CAIRN=$1
VECTORS=$2
T=$(mktemp -d /tmp/cairn-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect CODE PATTERN -- command...: exit code and a stderr/stdout pattern.
expect() {
  local code=$1 pattern=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ]; then bad "exit $rc (want $code): $* :: $out"; return; fi
  if [ -n "$pattern" ] && ! grep -q -- "$pattern" <<<"$out"; then bad "no '$pattern' in: $out ($*)"; return; fi
  ok
}

DB=$T/db
# The 8 RFC 9162 test leaves (hex), appended one batch each, then their roots.
python3 - "$VECTORS/rfc9162_merkle_vectors.json" "$T" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/leaves.hex", "w").write("\n".join(v["leaves"]) + "\n")
open(sys.argv[2] + "/roots", "w").write("\n".join(v["roots_by_size"]) + "\n")
PY
expect 0 "log size 8" -- "$CAIRN" log append --db "$DB" --hex --batch 1 "$T/leaves.hex"
for n in 0 1 2 3 4 5 6 7 8; do
  want=$(sed -n "$((n + 1))p" "$T/roots")
  expect 0 "\"root\":\"$want\"" -- "$CAIRN" log checkpoint --db "$DB" --size $n
done

ROOT8=$(sed -n 9p "$T/roots")
ROOT5=$(sed -n 6p "$T/roots")
# Inclusion of leaf 3 ("2021") in the tree of 8, through a JSON proof file.
"$CAIRN" log prove-inclusion --db "$DB" --index 3 >"$T/incl.json" || bad "prove-inclusion"
expect 0 "OK: inclusion proof verified" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --proof "$T/incl.json"
# The same proof as a --path list.
PATHS=$("$CAIRN" log prove-inclusion --db "$DB" --index 3 --hex | paste -sd, -)
expect 0 "verified" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --index 3 --size 8 --path "$PATHS"
# Wrong leaf, wrong root, wrong index, tampered hash, a hash too few, a hash too many.
expect 1 "EPROOF_MISMATCH" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2022 --proof "$T/incl.json"
expect 1 "EPROOF_MISMATCH" -- "$CAIRN" log verify-inclusion --root "$ROOT5" --leaf-hex 2021 --proof "$T/incl.json"
expect 1 "EPROOF_MISMATCH" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --index 2 --size 8 --path "$PATHS"
TAMPERED=$(sed 's/^./f/' <<<"$PATHS")
[ "$TAMPERED" != "$PATHS" ] || TAMPERED=$(sed 's/^./0/' <<<"$PATHS")
expect 1 "EPROOF_MISMATCH" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --index 3 --size 8 --path "$TAMPERED"
SHORT=$(cut -d, -f1-2 <<<"$PATHS")
expect 1 "EPROOF_LENGTH" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --index 3 --size 8 --path "$SHORT"
expect 1 "EPROOF_LENGTH" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --index 3 --size 8 --path "$PATHS,$ROOT8"

# Consistency 5 -> 8.
"$CAIRN" log prove-consistency --db "$DB" --first 5 >"$T/cons.json" || bad "prove-consistency"
expect 0 "OK: consistency proof verified" -- "$CAIRN" log verify-consistency --first-root "$ROOT5" --second-root "$ROOT8" --proof "$T/cons.json"
expect 1 "EPROOF_MISMATCH" -- "$CAIRN" log verify-consistency --first-root "$ROOT8" --second-root "$ROOT8" --proof "$T/cons.json"
CP=$("$CAIRN" log prove-consistency --db "$DB" --first 5 --hex | paste -sd, -)
expect 0 "verified" -- "$CAIRN" log verify-consistency --first-root "$ROOT5" --second-root "$ROOT8" --first 5 --second 8 --path "$CP"
expect 2 "ELOG_ORDER" -- "$CAIRN" log verify-consistency --first-root "$ROOT8" --second-root "$ROOT5" --first 8 --second 5 --path "$CP"

# Bad requests against the store: specific errors, nothing written.
expect 2 "ELOG_INDEX" -- "$CAIRN" log prove-inclusion --db "$DB" --index 8
expect 2 "ELOG_SIZE" -- "$CAIRN" log prove-inclusion --db "$DB" --index 1 --size 9
expect 2 "ELOG_ORDER" -- "$CAIRN" log prove-consistency --db "$DB" --first 6 --second 5
expect 2 "ELOG_SIZE" -- "$CAIRN" log prove-consistency --db "$DB" --first 2 --second 9
expect 2 "ELOG_SIZE" -- "$CAIRN" log checkpoint --db "$DB" --size 9
expect 2 "ENUMBER" -- "$CAIRN" log prove-inclusion --db "$DB" --index -1
expect 2 "ENUMBER" -- "$CAIRN" log prove-inclusion --db "$DB" --index 99999999999999999999999
expect 2 "ENUMBER" -- "$CAIRN" log prove-inclusion --db "$DB" --index 0x10
expect 2 "EHEX" -- "$CAIRN" log verify-inclusion --root zz --leaf-hex 00 --proof "$T/incl.json"
expect 2 "EHEX" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 0g --proof "$T/incl.json"
expect 2 "EHEX" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 00 --index 0 --size 8 --path "abc"
printf '{"leaf_index": 3, "tree_size": 8, "audit_path": [' >"$T/trunc.json"
expect 2 "EJSON" -- "$CAIRN" log verify-inclusion --root "$ROOT8" --leaf-hex 2021 --proof "$T/trunc.json"
printf 'zz\n' >"$T/nonhex"
expect 2 "EHEX" -- "$CAIRN" log append --db "$DB" --hex "$T/nonhex"
expect 0 "\"root\":\"$ROOT8\"" -- "$CAIRN" log checkpoint --db "$DB"
expect 2 "usage" -- "$CAIRN" log prove-inclusion --db "$DB"
expect 2 "usage" -- "$CAIRN" log checkpoint --db "$DB" --bogus 1
expect 2 "unknown command" -- "$CAIRN" frobnicate

# Foreign directories are refused, not opened or overwritten.
mkdir "$T/foreign" && echo hi >"$T/foreign/file"
expect 2 "ESTORE_NOT_CAIRN" -- "$CAIRN" log checkpoint --db "$T/foreign"
expect 2 "ESTORE_NOT_CAIRN" -- "$CAIRN" log append --db "$T/foreign" "$T/nonhex"
[ "$(ls "$T/foreign")" = "file" ] && ok || bad "foreign directory was modified"
expect 2 "ENOENT" -- "$CAIRN" log checkpoint --db "$T/missing"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
