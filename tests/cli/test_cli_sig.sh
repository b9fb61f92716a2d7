#!/usr/bin/env bash
# End-to-end test of `cairn sig`: sign/verify round trips for every algorithm, the speccheck
# cases with their ZIP-215 results and reasons, key checks, and bad input with exit codes.
set -u
CAIRN=$1
VECTORS=$2
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
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

for alg in ed25519 secp256k1-schnorr secp256k1-ecdsa p256; do
  out=$("$CAIRN" sig keygen --alg $alg)
  sk=$(awk '/^sk/{print $2}' <<<"$out")
  pk=$(awk '/^pubkey/{print $2}' <<<"$out")
  sig=$("$CAIRN" sig sign --alg $alg --sk "$sk" --msg 6465766963652d31)
  expect 0 "^valid" -- "$CAIRN" sig verify --alg $alg --pubkey "$pk" --msg 6465766963652d31 --sig "$sig"
  expect 1 "ESIG_INVALID" -- "$CAIRN" sig verify --alg $alg --pubkey "$pk" --msg 6465766963652d32 --sig "$sig"
  expect 1 "ESIG_LENGTH" -- "$CAIRN" sig verify --alg $alg --pubkey "$pk" --msg "" --sig "${sig:0:126}"
  expect 0 "^ok" -- "$CAIRN" sig check-key --alg $alg --pubkey "$pk"
  # Empty message.
  sig0=$("$CAIRN" sig sign --alg $alg --sk "$sk" --msg "")
  expect 0 "^valid" -- "$CAIRN" sig verify --alg $alg --pubkey "$pk" --msg "" --sig "$sig0"
done

# The speccheck cases: ZIP-215 accepts 0-5 and 9-11, rejects 6-8.
python3 - "$VECTORS/ed25519_speccheck_cases.json" > /tmp/cairn-speccheck-$$ <<'PY'
import json, sys
for i, c in enumerate(json.load(open(sys.argv[1]))):
    print(i, c["pub_key"], c["message"], c["signature"])
PY
while read -r i pk msg sig; do
  case $i in
    6|7) expect 1 "S >= L" -- "$CAIRN" sig verify --alg ed25519 --pubkey "$pk" --msg "$msg" --sig "$sig" ;;
    8) expect 1 "ESIG_INVALID" -- "$CAIRN" sig verify --alg ed25519 --pubkey "$pk" --msg "$msg" --sig "$sig" ;;
    *) expect 0 "^valid" -- "$CAIRN" sig verify --alg ed25519 --pubkey "$pk" --msg "$msg" --sig "$sig" ;;
  esac
done < /tmp/cairn-speccheck-$$
rm -f /tmp/cairn-speccheck-$$

# R not on the curve (y = 2), public key not on the curve, weak keys.
Y2=02$(printf '00%.0s' $(seq 31))
S0=$(printf '00%.0s' $(seq 32))
PK=$("$CAIRN" sig keygen --alg ed25519 | awk '/^pubkey/{print $2}')
expect 1 "R: point not on curve" -- "$CAIRN" sig verify --alg ed25519 --pubkey "$PK" --msg 00 --sig "$Y2$S0"
expect 1 "public key: point not on curve" -- "$CAIRN" sig verify --alg ed25519 --pubkey "$Y2" --msg 00 --sig "$Y2$S0"
expect 1 "ESIG_WEAK_KEY" -- "$CAIRN" sig check-key --alg ed25519 --pubkey c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a
expect 1 "ESIG_POINT" -- "$CAIRN" sig check-key --alg p256 --pubkey 02$(printf 'ff%.0s' $(seq 32))

# Bad input.
expect 2 "--alg must be" -- "$CAIRN" sig verify --alg rsa --pubkey 00 --msg 00 --sig 00
expect 2 "EHEX" -- "$CAIRN" sig verify --alg ed25519 --pubkey zz --msg 00 --sig 00
expect 2 "usage" -- "$CAIRN" sig verify --alg ed25519 --pubkey 00
expect 2 "usage" -- "$CAIRN" sig verify --alg ed25519 --pubkey 00 --msg 00 --sig 00 --extra
expect 2 "unknown sig subcommand" -- "$CAIRN" sig frobnicate
expect 2 "usage" -- "$CAIRN" sig

echo "cli_sig: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
