#!/usr/bin/env bash
# The README walkthrough, run against a node ($CAIRN_NODE, default http://127.0.0.1:7750) whose
# dev home or devnet directory is $CAIRN_HOME (default ./cairn-dev; it needs admin.key and
# genesis.json, which both layouts have): register a device, publish firmware, attest, anchor
# data, fetch and verify the provenance bundle offline, check that its checkpoint certificate
# carries commit signatures of more than 2/3 of the validators' power, revoke the firmware,
# attest again. Needs jq (deploy/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CAIRN_NODE=${CAIRN_NODE:-http://127.0.0.1:7750}
H=${CAIRN_HOME:-cairn-dev}
C=build/bin/cairn
W=$H/demo
mkdir -p "$W"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

say "A device key (P-256, as in a secure element)"
[ -f "$W/meter.key" ] || run $C key new --alg p256 --out "$W/meter.key"

say "The operator registers the device; its serial number stays off the ledger (salted commitment)"
SERIAL="SN-$(date +%s)"
run $C device register --key "$H/admin.key" --org dev-org --device-key "$W/meter.key" \
  --class meter-v2 --id "devid:$SERIAL" --model M2 --manufacturer Acme | tee "$W/register.out"
DEV=$(sed -n 's/^device_id: //p' "$W/register.out")

say "The vendor publishes firmware 2.0.0 (image digest, security version 2)"
IMG=$(printf 'meter firmware 2.0.0 %s' "$SERIAL" | sha256sum | cut -d' ' -f1)
run $C firmware publish --key "$H/admin.key" --vendor dev-org --class meter-v2 --version "2.0.$(date +%s)" \
  --svn 2 --image-digest "$IMG" | tee "$W/publish.out"
REL=$(sed -n 's/^release_id: //p' "$W/publish.out")

say "The device attests its measured firmware: the ledger appraises it"
run $C attest --key "$W/meter.key" --device "$DEV" --measurement "$IMG"

say "The device anchors the digest of a reading"
printf 'meter %s: 21.5 kWh at %s\n' "$SERIAL" "$(date -u +%FT%TZ)" >"$W/reading.txt"
DATA=$(sha256sum "$W/reading.txt" | cut -d' ' -f1)
run $C anchor --key "$W/meter.key" --device "$DEV" --stream kwh --seq 1 --digest "$DATA" \
  --from-ms 1000 --to-ms 2000 | tee "$W/anchor.out"
# A provenance bundle needs the anchor's block certified (its commit certificate is gathered from
# the validators' commit votes, a moment after the block is committed).
ANCHOR_H=$(sed -n 's/^status: committed (height \([0-9]*\),.*/\1/p' "$W/anchor.out")
for _ in $(seq 300); do
  [ "$(curl -sf "$CAIRN_NODE/v1/blocks/$ANCHOR_H" | jq -r .certified)" = true ] && break
  sleep 0.1
done

say "Anyone fetches the provenance bundle and verifies it offline, with only the genesis file"
run $C provenance "$DATA" --out "$W/bundle.json"
run $C verify "$W/bundle.json" --genesis "$H/genesis.json" | tee "$W/verify.out"

say "The bundle's checkpoint certificate: commit signatures of more than 2/3 of the validators"
# Certificate bytes (docs/formats.md): TAG("CAIRN-CERT-V1") (14 bytes) || u64 height ||
# block_hash (32) || u32 n || n * (u32 validator index || signature (64)).
CERT=$(jq -r .certificate "$W/bundle.json")
N_SIG=$((16#${CERT:108:8}))
SIGNERS=()
for ((k = 0; k < N_SIG; k++)); do SIGNERS+=("$((16#${CERT:$((116 + 136 * k)):8}))"); done
SIGNERS_JSON="[$(IFS=,; echo "${SIGNERS[*]}")]"
read -r N_VAL TOTAL SIGNED < <(jq -r --argjson s "$SIGNERS_JSON" \
  '[(.validators | length), ([.validators[].power] | add), ([.validators[$s[]].power] | add // 0)] | @tsv' \
  "$H/genesis.json")
VERIFIED=$(sed -n 's/.*, \([0-9]*\) commit signature(s)$/\1/p' "$W/verify.out")
printf 'certificate signers: %d of %d validators (indexes %s), voting power %d of %d; cairn verify checked %s signature(s)\n' \
  "$N_SIG" "$N_VAL" "${SIGNERS[*]}" "$SIGNED" "$TOTAL" "$VERIFIED"
if [ $((3 * SIGNED)) -gt $((2 * TOTAL)) ] && [ "$VERIFIED" = "$N_SIG" ]; then
  echo "quorum: more than 2/3 of the validators' power signed this checkpoint"
else
  echo "quorum: NOT reached (need 3 * signed > 2 * total)" >&2
  exit 1
fi

say "The vendor revokes the firmware; the device attests again: the appraisal changes"
run $C firmware revoke --key "$H/admin.key" --release "$REL" --reason "CVE-2026-1234"
run $C attest --key "$W/meter.key" --device "$DEV" --measurement "$IMG"

say "Done. Try: $C device show $DEV   |   $C checkpoint   |   curl $CAIRN_NODE/metrics"
