#!/usr/bin/env bash
# The README walkthrough against a real `cairnd --dev`: register a device, publish firmware,
# attest, anchor, fetch and verify the provenance bundle offline, revoke the firmware, attest
# again and see the appraisal change; bad input over HTTP and the CLI gets specific errors and
# changes nothing; a restart resumes from disk; kill -9 loses nothing that was committed.
set -u
CAIRN=$1
CAIRND=$2
T=$(mktemp -d /tmp/cairn-flow-XXXXXX)
NODE_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null
  if [ "${fail:-0}" -gt 0 ] && [ -f "$T/node.err" ]; then
    echo "--- last lines of the node's log:" >&2
    tail -n 30 "$T/node.err" >&2
  fi
  rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { # expect CODE PATTERN -- cmd...
  local code=$1 pattern=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$code" ]; then bad "exit $rc (want $code): $* :: $out"; return; fi
  if [ -n "$pattern" ] && ! grep -q -- "$pattern" <<<"$out"; then bad "no '$pattern' in: $out"; return; fi
  ok
}

start_node() {
  # Remove the previous run's output first: the restarted node binds another ephemeral port, and
  # reading the old URL before the new process truncates the file would talk to a dead port.
  rm -f "$T/node.out"
  "$CAIRND" --dev --home "$T/home" --port 0 >"$T/node.out" 2>"$T/node.err" &
  NODE_PID=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/^cairnd: API *//p' "$T/node.out")
    [ -n "$URL" ] && break
    sleep 0.1
  done
  [ -n "$URL" ] || { bad "node did not start: $(cat "$T/node.err")"; exit 1; }
  export CAIRN_NODE=$URL
}

start_node
H=$T/home
# The dev home's peer-link key: X25519, private part readable by its owner only, public part in genesis.
python3 - "$H" <<'PY' && ok || bad "noise.key does not match the genesis noise_key"
import json, os, stat, sys
h = sys.argv[1]
k = json.load(open(h + "/noise.key"))
g = json.load(open(h + "/genesis.json"))
assert k["alg"] == "x25519" and len(k["private"]) == 64
assert stat.S_IMODE(os.stat(h + "/noise.key").st_mode) == 0o600
assert g["validators"][0]["noise_key"] == k["public"]
PY
python3 - "$H" <<'PY' && ok || bad "noise.key public key is not X25519(private)"
import json, sys
k = json.load(open(sys.argv[1] + "/noise.key"))
# X25519 base-point multiplication, RFC 7748 section 5, to check the key pair independently.
p = 2**255 - 19
def x25519(k, u):
    k = bytearray(k); k[0] &= 248; k[31] &= 127; k[31] |= 64
    k = int.from_bytes(k, "little"); x1 = u; x2, z2, x3, z3, swap = 1, 0, u, 1, 0
    for t in reversed(range(255)):
        kt = (k >> t) & 1; swap ^= kt
        if swap: x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        A = x2 + z2; AA = A * A; B = x2 - z2; BB = B * B; E = AA - BB; C = x3 + z3; D = x3 - z3
        DA = D * A; CB = C * B
        x3 = (DA + CB) ** 2 % p; z3 = x1 * (DA - CB) ** 2 % p; x2 = AA * BB % p; z2 = E * (AA + 121665 * E) % p
    if swap: x2, x3, z2, z3 = x3, x2, z3, z2
    return (x2 * pow(z2, p - 2, p) % p).to_bytes(32, "little")
assert x25519(bytes.fromhex(k["private"]), 9).hex() == k["public"]
PY
expect 0 '"height":0' -- curl -sf "$URL/healthz"

# Keys: a device key (P-256, as a secure element would have).
expect 0 "alg: p256" -- "$CAIRN" key new --alg p256 --out "$T/dev.key"
expect 2 "EEXIST" -- "$CAIRN" key new --alg p256 --out "$T/dev.key"

# Register the device under dev-org; its serial stays off the ledger (salted commitment).
out=$("$CAIRN" device register --key "$H/admin.key" --org dev-org --device-key "$T/dev.key" \
      --class meter-v2 --id devid:SN-0042 --model M2 --manufacturer Acme 2>&1) || bad "register: $out"
DEV=$(sed -n 's/^device_id: //p' <<<"$out")
grep -q "status: committed" <<<"$out" && ok || bad "register not committed: $out"
expect 0 '"status": "active"' -- "$CAIRN" device show "$DEV"

# Blocks: the genesis block holds the genesis leaf only; the register's block lists exactly its tx.
REG_TX=$(sed -n 's/^tx_hash: //p' <<<"$out")
REG_H=$(sed -n 's/^status: committed (height \([0-9]*\),.*/\1/p' <<<"$out")
python3 - "$URL" "$REG_TX" "$REG_H" <<'PY' && ok || bad "GET /v1/blocks/{height} answers"
import json, sys, urllib.request, urllib.error
url, tx, h = sys.argv[1], sys.argv[2], int(sys.argv[3])
get = lambda p: json.load(urllib.request.urlopen(url + p))
g = get("/v1/blocks/0")
assert (g["height"], g["log_size"], g["first_log_index"], g["tx_count"], g["tx_hashes"], g["results"],
        g["certified"]) == (0, 1, 0, 0, [], [], True), g
import time
for _ in range(100):  # the commit certificate is stored a moment after the block
    b = get("/v1/blocks/%d" % h)
    if b["certified"]: break
    time.sleep(0.1)
prev = get("/v1/blocks/%d" % (h - 1))
assert b["tx_hashes"] == [tx] and b["results"] == [0] and b["tx_count"] == 1, b
assert b["first_log_index"] == prev["log_size"] and b["log_size"] == prev["log_size"] + 1, (b, prev)
assert b["certified"] is True and b["time_ms"] >= prev["time_ms"] and len(b["hash"]) == 64
cp = get("/v1/checkpoint")
assert get("/v1/blocks/%d" % cp["height"])["hash"] == cp["block_hash"]
for path, status, name in (("/v1/blocks/99999999", 404, "ENOENT"), ("/v1/blocks/abc", 400, "ENUMBER"),
                           ("/v1/blocks/-1", 400, "ENUMBER")):
    try:
        urllib.request.urlopen(url + path); assert False, path
    except urllib.error.HTTPError as e:
        assert e.code == status and json.load(e)["error"]["name"] == name, (path, e.code)
PY
! curl -s "$URL/v1/log/entries/1" | grep -qi "$(printf 'SN-0042' | xxd -p)" && ok || bad "serial readable on the ledger"

# Firmware.
IMG=$(printf 'firmware image 2.0.0' | sha256sum | cut -d' ' -f1)
out=$("$CAIRN" firmware publish --key "$H/admin.key" --vendor dev-org --class meter-v2 --version 2.0.0 \
      --svn 2 --image-digest "$IMG" 2>&1) || bad "publish: $out"
REL=$(sed -n 's/^release_id: //p' <<<"$out")
expect 1 "ESECURITY_VERSION" -- "$CAIRN" firmware publish --key "$H/admin.key" --vendor dev-org \
  --class meter-v2 --version 1.0.0 --svn 1 --image-digest "$(printf old | sha256sum | cut -d' ' -f1)"

# Attest (trusted) and anchor.
expect 0 "appraisal: trusted" -- "$CAIRN" attest --key "$T/dev.key" --device "$DEV" --measurement "$IMG"
DATA=$(printf 'reading 1: 21.5 kWh' | sha256sum | cut -d' ' -f1)
expect 0 "status: committed" -- "$CAIRN" anchor --key "$T/dev.key" --device "$DEV" --stream kwh --seq 1 \
  --digest "$DATA" --from-ms 1000 --to-ms 2000
expect 1 "EANCHOR_SEQUENCE" -- "$CAIRN" anchor --key "$T/dev.key" --device "$DEV" --stream kwh --seq 1 \
  --digest "$DATA"
expect 1 "ESIGNER" -- "$CAIRN" anchor --key "$H/admin.key" --device "$DEV" --stream kwh --seq 2 --digest "$DATA"

# Provenance bundle, verified offline with the genesis file only (JSON and binary).
expect 0 "wrote" -- "$CAIRN" provenance "$DATA" --out "$T/bundle.json"
expect 0 "" -- "$CAIRN" provenance "$DATA" --format protobuf --out "$T/bundle.pb"
expect 0 "appraisal trusted" -- "$CAIRN" verify "$T/bundle.json" --genesis "$H/genesis.json"
expect 0 "VALID" -- "$CAIRN" verify "$T/bundle.pb" --genesis "$H/genesis.json"
expect 0 "meter-v2 2.0.0 (security version 2), published" -- "$CAIRN" verify "$T/bundle.json" --genesis "$H/genesis.json"
# A forged bundle: one hex digit of the device record changed.
python3 - "$T/bundle.json" "$T/forged.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
r = b["device_record"]; i = len(r) // 2
b["device_record"] = r[:i] + ("0" if r[i] != "0" else "1") + r[i + 1:]
json.dump(b, open(sys.argv[2], "w"))
PY
expect 1 "INVALID: EBUNDLE: device: state proof does not verify" -- "$CAIRN" verify "$T/forged.json" --genesis "$H/genesis.json"
# Another consortium's genesis does not accept it.
sed 's/"cairn-dev"/"other-net"/' "$H/genesis.json" >"$T/other-genesis.json"
expect 1 "ECHAIN_ID" -- "$CAIRN" verify "$T/bundle.json" --genesis "$T/other-genesis.json"

# Revoke the firmware; attest again: the appraisal changes; the old bundle still verifies.
expect 0 "status: committed" -- "$CAIRN" firmware revoke --key "$H/admin.key" --release "$REL" --reason CVE-2026-1234
expect 0 "appraisal: revoked_firmware" -- "$CAIRN" attest --key "$T/dev.key" --device "$DEV" --measurement "$IMG"
expect 0 "VALID" -- "$CAIRN" verify "$T/bundle.json" --genesis "$H/genesis.json"

# Governance (1 of 1 organizations): add "city"; transfer the device to it (offer + accept);
# city rotates its admin keys; with the policy at 2 of 2, removing an organization needs both.
expect 0 "public" -- "$CAIRN" key new --alg ed25519 --out "$T/city.key"
expect 0 "public" -- "$CAIRN" key new --alg secp256k1-ecdsa --out "$T/city2.key"
expect 0 "status: committed" -- "$CAIRN" gov propose add-org --key "$H/admin.key" --org dev-org --name city \
  --roles operator,service --admin-keys "$T/city.key"
expect 1 "EORG_EXISTS" -- "$CAIRN" gov propose add-org --key "$H/admin.key" --org dev-org --name city \
  --roles operator --admin-keys "$T/city.key"
out=$("$CAIRN" device transfer --key "$H/admin.key" --device "$DEV" --to city 2>&1) || bad "offer: $out"
OFFER=$(sed -n 's/^tx_hash: //p' <<<"$out")
expect 1 "ESIGNER" -- "$CAIRN" device accept --key "$H/admin.key" --device "$DEV" --offer "$OFFER"
expect 0 "status: committed" -- "$CAIRN" device accept --key "$T/city.key" --device "$DEV" --offer "$OFFER"
CITY=$("$CAIRN" org id city | sed -n 's/^org_id: //p')
expect 0 "\"owner\": \"$CITY\"" -- "$CAIRN" device show "$DEV"
expect 0 "status: committed" -- "$CAIRN" org rotate-keys --key "$T/city.key" --org city --admin-keys "$T/city2.key"
expect 1 "ESIGNER" -- "$CAIRN" device status --key "$T/city.key" --device "$DEV" --status suspended
expect 0 "status: committed" -- "$CAIRN" gov propose set-policy --key "$H/admin.key" --org dev-org --approvals 2
out=$("$CAIRN" gov propose remove-org --key "$T/city2.key" --org city --name city 2>&1) || bad "propose: $out"
PROP=$(sed -n 's/^tx_hash: //p' <<<"$out")
expect 0 "\"owner\": \"$CITY\"" -- "$CAIRN" device show "$DEV"
expect 0 "status: committed" -- "$CAIRN" device status --key "$T/city2.key" --device "$DEV" --status suspended
expect 1 "EDEVICE_NOT_ACTIVE" -- "$CAIRN" anchor --key "$T/dev.key" --device "$DEV" --stream kwh --seq 2 --digest "$DATA"
expect 0 "status: committed" -- "$CAIRN" device status --key "$T/city2.key" --device "$DEV" --status active
expect 1 "EPROPOSAL" -- "$CAIRN" gov approve --key "$T/city2.key" --org city --proposal "$PROP"
expect 0 "status: committed" -- "$CAIRN" gov approve --key "$H/admin.key" --org dev-org --proposal "$PROP" --reject
expect 1 "EPROPOSAL" -- "$CAIRN" gov approve --key "$H/admin.key" --org dev-org --proposal "$PROP"

# A bad CAIRN_LOG_LEVEL is refused before anything starts.
expect 1 "CAIRN_LOG_LEVEL must be" -- env CAIRN_LOG_LEVEL=loud "$CAIRND" --home "$T/home"

# Bad input over HTTP: each gets its specific error; the node keeps serving.
expect 0 '"EDECODE"' -- curl -s -X POST "$URL/v1/txs" -H 'Content-Type: application/x-protobuf' --data-binary 'garbage'
expect 0 '"EHTTP_CONTENT_TYPE"' -- curl -s -X POST "$URL/v1/txs" -H 'Content-Type: text/plain' --data-binary 'x'
expect 0 '"EHEX"' -- curl -s "$URL/v1/txs/zz"
expect 0 '"EHEX"' -- curl -s "$URL/v1/devices/1234"
expect 0 '"ENOENT"' -- curl -s "$URL/v1/devices/$(printf '%064d' 0)"
expect 0 '"ENOENT"' -- curl -s "$URL/v1/provenance/$(printf '%064d' 7)"
expect 0 '"EHTTP_ROUTE"' -- curl -s "$URL/v2/nothing"
expect 0 '"EHTTP_METHOD"' -- curl -s -X DELETE "$URL/v1/checkpoint"
expect 0 '"EHTTP_QUERY"' -- curl -s "$URL/v1/proofs/inclusion?index=abc"
expect 0 '"ELOG_SIZE"' -- curl -s "$URL/v1/proofs/inclusion?index=1&tree_size=999999"
expect 0 '"ELOG_ORDER"' -- curl -s "$URL/v1/proofs/consistency?first=9&second=2"
head -c 100000 /dev/urandom >"$T/big"
expect 0 '413' -- curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/txs" -H 'Content-Type: application/x-protobuf' --data-binary @"$T/big"
printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/${URL##*:}; cat >&3; cat <&3" >/dev/null 2>&1
expect 0 '"status":"ok"' -- curl -s "$URL/healthz"
HEIGHT=$(curl -s "$URL/healthz" | sed 's/.*"height":\([0-9]*\).*/\1/')

# Inclusion and consistency proofs from the API verify with the offline verifier.
CP=$(curl -s "$URL/v1/checkpoint")
ROOT=$(sed 's/.*"log_root":"\([0-9a-f]*\)".*/\1/' <<<"$CP")
SIZE=$(sed 's/.*"log_size":\([0-9]*\).*/\1/' <<<"$CP")
curl -s "$URL/v1/proofs/inclusion?index=0&tree_size=$SIZE" >"$T/incl.json"
LEAF0=$(curl -s "$URL/v1/log/entries/0" | sed 's/.*"leaf":"\([0-9a-f]*\)".*/\1/')
expect 0 "verified" -- "$CAIRN" log verify-inclusion --root "$ROOT" --leaf-hex "$LEAF0" --proof "$T/incl.json"

# Graceful restart resumes from disk.
kill -TERM "$NODE_PID"; wait "$NODE_PID" 2>/dev/null; NODE_PID=
start_node
expect 0 "\"height\":$HEIGHT" -- curl -s "$URL/healthz"
expect 0 "wrote" -- "$CAIRN" provenance "$DATA" --out "$T/b2.json"
expect 0 "VALID" -- "$CAIRN" verify "$T/b2.json" --genesis "$H/genesis.json"

# A gateway: devices sign offline (--sign-only), one POST /v1/txs/batch carries them; each gets its
# own answer in order (a garbage one EDECODE, a copy with a broken signature ESIG_INVALID).
for s in 1 2; do
  expect 0 "wrote" -- "$CAIRN" anchor --key "$T/dev.key" --device "$DEV" --stream gw --seq "$s" \
    --digest "$(printf 'gw %d' "$s" | sha256sum | cut -d' ' -f1)" --sign-only "$T/gw$s.tx"
done
printf 'garbage' >"$T/gwbad.tx"
cp "$T/gw2.tx" "$T/gwsig.tx"
printf '\001' | dd of="$T/gwsig.tx" bs=1 seek=$(($(stat -c %s "$T/gwsig.tx") - 3)) conv=notrunc 2>/dev/null
out=$("$CAIRN" tx submit-batch "$T/gw1.tx" "$T/gw2.tx" "$T/gwbad.tx" "$T/gwsig.tx" 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok || bad "submit-batch exit $rc (want 1): $out"
grep -q '"accepted":2,' <<<"$out" && ok || bad "batch: want 2 accepted: $out"
grep -q '{"tx_hash":null,"error":{"code":-101,"name":"EDECODE"}}' <<<"$out" && ok || bad "batch: no EDECODE: $out"
grep -q '"name":"ESIG_INVALID"' <<<"$out" && ok || bad "batch: no ESIG_INVALID: $out"
# Once the first one is committed, submitting it again is a replay.
H1=$(sed -n 's/.*"results":\[{"tx_hash":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
for _ in $(seq 100); do
  curl -s "$URL/v1/txs/$H1" | grep -q '"status":"committed"' && break
  sleep 0.1
done
expect 1 "EREPLAY" -- "$CAIRN" tx submit-batch "$T/gw1.tx"
expect 0 '"EDECODE"' -- curl -s -X POST "$URL/v1/txs/batch" -H 'Content-Type: application/x-protobuf' --data-binary 'garbage'
expect 0 '"EFIELD"' -- curl -s -X POST "$URL/v1/txs/batch" -H 'Content-Type: application/x-protobuf' --data-binary ''
[ -n "$H1" ] && ok || bad "batch answer has no first tx_hash: $out"

# kill -9 under load: every transaction reported committed is there after the restart.
for i in $(seq 2 40); do
  D=$(printf 'reading %d' "$i" | sha256sum | cut -d' ' -f1)
  "$CAIRN" anchor --key "$T/dev.key" --device "$DEV" --stream kwh --seq "$i" --digest "$D" >"$T/a$i.out" 2>&1 &
done
# Kill as soon as some (not all) anchors are acknowledged, at most 30 s from now.
for _ in $(seq 300); do
  [ "$(grep -l 'status: committed' "$T"/a*.out 2>/dev/null | wc -l)" -gt 0 ] && break
  sleep 0.1
done
kill -9 "$NODE_PID"; wait "$NODE_PID" 2>/dev/null; NODE_PID=
wait
[ "$(grep -l 'status: committed' "$T"/a*.out | wc -l)" -gt 0 ] && ok || bad "no anchor was acknowledged before the kill"
start_node
committed=0
for i in $(seq 2 40); do
  if grep -q "status: committed" "$T/a$i.out"; then
    committed=$((committed + 1))
    h=$(sed -n 's/^tx_hash: //p' "$T/a$i.out")
    st=$(curl -s "$URL/v1/txs/$h")
    grep -q '"status":"committed"' <<<"$st" && ok || bad "acknowledged anchor $i lost after kill -9: $st"
  fi
done
echo "# $committed anchors acknowledged before kill -9, all present after restart"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
