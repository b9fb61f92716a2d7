#!/usr/bin/env bash
# Validator-set changes through governance, effective at an epoch boundary, on a real 4-process
# devnet: a 5th validator (keys from a second --init-devnet) is added with `cairn gov propose
# add-validator`; every node moves to epoch 1; the 5th node starts from the genesis as an
# observer, catches up by sync across the boundary and votes in epoch 1 (its commit signatures
# appear in certificates); commits continue; every node holds the same block at every height.
# Then a validator is removed while another is down: the running ones commit in epoch 2, and the
# one that missed the boundary crosses it from its peers' epoch-end proof and stored blocks.
#
#   test_cluster_epoch.sh CAIRN CAIRND
set -u
CAIRN=$1
CAIRND=$2
T=$(mktemp -d /tmp/cairn-epoch-XXXXXX)
P=$((21000 + (RANDOM % 400) * 20)) # ports P..P+9 (nodes), P+20.. (key donor, never started)
PIDS=()
pass=0
fail=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  if [ "$fail" -gt 0 ]; then
    for i in 0 1 2 3 4; do
      [ -f "$T/net/node$i/cairnd.log" ] || continue
      echo "--- node$i log (last lines):" >&2
      grep -v 'level=debug' "$T/net/node$i/cairnd.log" | tail -n 25 >&2
    done
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
die() { bad "$*"; echo "$pass passed, $fail failed" >&2; exit 1; }

url() { echo "http://127.0.0.1:$((P + 2 * $1))"; }
metric() { curl -s --max-time 2 "$(url "$1")/metrics" | sed -n "s/^$2 //p"; }
height() { curl -s --max-time 2 "$(url "$1")/healthz" | jq -r '.height // empty' 2>/dev/null; }
start() {
  "$CAIRND" --home "$T/net/node$1" >>"$T/net/node$1/cairnd.log" 2>&1 &
  PIDS[$1]=$!
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
  local secs=$1 what=$2 _
  shift 2
  for _ in $(seq $((secs * 5))); do
    "$@" && { ok; return 0; }
    sleep 0.2
  done
  bad "timed out ($secs s): $what"
  return 1
}
epoch_is() { # epoch_is E NODE...
  local e=$1 i
  shift
  for i in "$@"; do [ "$(metric "$i" cairn_consensus_epoch)" = "$e" ] || return 1; done
}
voter() { [ "$(metric "$1" cairn_consensus_voter)" = 1 ]; }
higher() { local h; h=$(height "$1"); [ -n "$h" ] && [ "$h" -ge "$2" ]; }
same_height() { # same_height A B: B's ledger reached A's
  local a b
  a=$(height "$1") b=$(height "$2")
  [ -n "$a" ] && [ -n "$b" ] && [ "$b" -ge "$a" ]
}
publish() { # publish N [CLASS]: one firmware release on node 0 (a transaction to commit)
  "$CAIRN" firmware publish --node "$(url 0)" --key "$T/net/admin.key" --vendor dev-org \
    --class "${2:-meter}" --version "1.0.$1" --svn "$1" \
    --image-digest "$(printf 'image %d' "$1" | sha256sum | cut -d' ' -f1)" >/dev/null 2>&1
}
# Signer indexes of the certificate in node $1's checkpoint (TAG\0, u64, hash, u32 n, n * (u32, sig)).
signers() {
  curl -s --max-time 2 "$(url "$1")/v1/checkpoint" | jq -r .certificate | python3 -c '
import sys
b = bytes.fromhex(sys.stdin.read().strip() or "")
if len(b) < 58: sys.exit(0)
o = len(b"CAIRN-CERT-V1") + 1 + 8 + 32
n = int.from_bytes(b[o:o + 4], "big"); o += 4
print(" ".join(str(int.from_bytes(b[o + 68 * k:o + 68 * k + 4], "big")) for k in range(n)))'
}

# ---- a 4-validator devnet, and keys for a 5th validator ----
"$CAIRND" --init-devnet "$T/net" --validators 4 --base-port "$P" >/dev/null || die "init-devnet"
"$CAIRND" --init-devnet "$T/donor" --validators 5 --base-port $((P + 20)) >/dev/null || die "init-devnet (donor)"
mkdir -p "$T/net/node4"
cp "$T/donor/node4/validator.key" "$T/donor/node4/noise.key" "$T/net/node4/"
jq --arg api "127.0.0.1:$((P + 8))" --arg p2p "127.0.0.1:$((P + 9))" \
  '.api.listen = $api | .p2p.listen = $p2p' "$T/net/node3/config.json" >"$T/net/node4/config.json"
for i in 0 1 2 3; do start "$i"; done
for i in 0 1 2 3; do wait_for 15 "node$i healthy" higher "$i" 0 || die "devnet did not start"; done
wait_for 20 "epoch 0 commits" epoch_is 0 0 1 2 3
publish 1 || bad "publish 1"
wait_for 20 "first block" higher 0 1

# ---- add the 5th validator ----
NOISE5=$(jq -r .public "$T/net/node4/noise.key")
out=$("$CAIRN" gov propose --node "$(url 0)" --key "$T/net/admin.key" --org dev-org add-validator \
  --for-org dev-org --validator-key "$T/net/node4/validator.key" --noise-key "$NOISE5" --power 1 \
  --address "127.0.0.1:$((P + 9))" 2>&1)
grep -q "status: committed" <<<"$out" && ok || bad "add-validator: $out"
wait_for 30 "epoch 1 on the four validators" epoch_is 1 0 1 2 3
[ "$(metric 0 cairn_consensus_validators)" = 5 ] && ok || bad "epoch 1 set size: $(metric 0 cairn_consensus_validators)"
CP=$(curl -s "$(url 0)/v1/checkpoint")
[ "$(jq -r .epoch <<<"$CP")" -ge 1 ] 2>/dev/null && ok || bad "checkpoint epoch: $CP"

# ---- the 5th node starts from the genesis, catches up and votes ----
start 4
wait_for 15 "node4 healthy" higher 4 0
wait_for 60 "node4 crosses into epoch 1" epoch_is 1 4
wait_for 10 "node4 votes" voter 4
for k in 2 3 4 5 6; do publish "$k" || bad "publish $k"; done
wait_for 30 "node4 ledger caught up" same_height 0 4
K=100
has4() { # a checkpoint certificate signed by validator 4 (each miss commits one more block)
  local i
  for i in 0 1 2 3 4; do signers "$i" | grep -qw 4 && return 0; done
  K=$((K + 1))
  publish "$K" meter-extra
  return 1
}
four_of_five() { local s; s=$(signers 0); [ "$(wc -w <<<"$s")" -ge 4 ]; }
wait_for 30 "a certificate signed by validator 4" has4
wait_for 10 "certificates with >= 4 of 5 signers" four_of_five
H0=$(height 0)
publish 7 || bad "publish 7"
wait_for 20 "commits continue with 5" higher 0 $((H0 + 1))
wait_for 20 "node4 at node0's height" same_height 0 4

# Every node holds the same block at every height (up to the lowest head).
MIN=$(for i in 0 1 2 3 4; do height "$i"; done | sort -n | head -1)
diverged=0
for ((h = 0; h <= MIN; h++)); do
  ref=$(curl -s "$(url 0)/v1/blocks/$h" | jq -r .hash)
  for i in 1 2 3 4; do
    x=$(curl -s "$(url "$i")/v1/blocks/$h" | jq -r .hash)
    [ "$x" = "$ref" ] || { diverged=1; bad "height $h: node$i $x, node0 $ref"; }
  done
done
[ "$diverged" = 0 ] && [ "$MIN" -ge 3 ] && ok || bad "block hashes (min height $MIN)"
echo "# epoch 1: 5 validators, identical blocks at heights 0..$MIN"

# A provenance bundle of an epoch-1 checkpoint verifies with the genesis file alone.
"$CAIRN" key new --alg ed25519 --out "$T/dev.key" >/dev/null 2>&1 || bad "key new"
out=$("$CAIRN" device register --node "$(url 0)" --key "$T/net/admin.key" --org dev-org \
  --device-key "$T/dev.key" --class meter --id devid:SN-1 2>&1) || bad "register: $out"
DEV=$(sed -n 's/^device_id: //p' <<<"$out")
DATA=$(printf 'reading after the change' | sha256sum | cut -d' ' -f1)
out=$("$CAIRN" anchor --node "$(url 0)" --key "$T/dev.key" --device "$DEV" --stream kwh --seq 1 \
  --digest "$DATA" 2>&1)
grep -q "status: committed" <<<"$out" && ok || bad "anchor: $out"
bundle_ok() {
  "$CAIRN" provenance "$DATA" --node "$(url 0)" --out "$T/bundle.json" >"$T/verify.out" 2>&1 &&
    "$CAIRN" verify "$T/bundle.json" --genesis "$T/net/genesis.json" >"$T/verify.out" 2>&1
}
wait_for 20 "provenance bundle of epoch 1 verifies" bundle_ok || cat "$T/verify.out" >&2
grep -q "epoch 1" "$T/verify.out" && ok || bad "verify output: $(cat "$T/verify.out")"

# ---- remove validator 3 while validator 2 is down: epoch 2 with four ----
{
  kill -9 "${PIDS[2]}"
  wait "${PIDS[2]}"
} 2>/dev/null
PIDS[2]=
# validator id = SHA-256("CAIRN-VALIDATOR-V1" 0x00 || u16be len || consensus key), as `cairn key
# show` prints it
V3=$("$CAIRN" key show "$T/net/node3/validator.key" | sed -n 's/^validator_id: //p')
V3PY=$(jq -r .public "$T/net/node3/validator.key" | python3 -c '
import hashlib, sys
k = bytes.fromhex(sys.stdin.read().strip())
print(hashlib.sha256(b"CAIRN-VALIDATOR-V1\0" + len(k).to_bytes(2, "big") + k).hexdigest())')
[ -n "$V3" ] && [ "$V3" = "$V3PY" ] && ok || bad "validator id: '$V3' vs '$V3PY'"
out=$("$CAIRN" gov propose --node "$(url 0)" --key "$T/net/admin.key" --org dev-org \
  remove-validator --validator-id "$V3" 2>&1)
grep -q "status: committed" <<<"$out" && ok || bad "remove-validator: $out"
wait_for 30 "epoch 2 on the running validators" epoch_is 2 0 1 4
[ "$(metric 0 cairn_consensus_validators)" = 4 ] && ok || bad "epoch 2 set size"
wait_for 10 "node3 is no longer a voter" bash -c "[ \"\$(curl -s $(url 3)/metrics | sed -n 's/^cairn_consensus_voter //p')\" != 1 ]"
H0=$(height 0)
publish 8 || bad "publish 8"
wait_for 20 "commits continue in epoch 2" higher 0 $((H0 + 1))
wait_for 20 "node4 follows in epoch 2" same_height 0 4
# Validator 2 missed the boundary: its epoch-1 messages get the epoch-end proof, its epoch-1 sync
# requests are served from storage, it commits the RECONFIG block itself and votes in epoch 2.
start 2
wait_for 40 "node2 crosses into epoch 2 after the fact" epoch_is 2 2
wait_for 10 "node2 votes in epoch 2" voter 2
H0=$(height 0)
publish 10 || bad "publish 10"
wait_for 20 "commits continue with all four" higher 0 $((H0 + 1))
wait_for 20 "node2 at node0's height" same_height 0 2
DATA=$(printf 'reading in epoch 2' | sha256sum | cut -d' ' -f1)
out=$("$CAIRN" anchor --node "$(url 1)" --key "$T/dev.key" --device "$DEV" --stream kwh --seq 2 \
  --digest "$DATA" 2>&1)
grep -q "status: committed" <<<"$out" && ok || bad "anchor (epoch 2): $out"
wait_for 20 "provenance bundle of epoch 2 verifies" bundle_ok || cat "$T/verify.out" >&2
grep -q "epoch 2" "$T/verify.out" && ok || bad "verify output: $(cat "$T/verify.out")"

# A restarted validator resumes in epoch 2 and commits go on.
kill -TERM "${PIDS[1]}"
wait "${PIDS[1]}" 2>/dev/null
start 1
wait_for 15 "node1 restarted in epoch 2" epoch_is 2 1
H0=$(height 0)
publish 11 || bad "publish 11"
wait_for 20 "commits after the restart" higher 0 $((H0 + 1))
wait_for 20 "node1 at node0's height" same_height 0 1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
