#!/usr/bin/env bash
# A misbehaving peer: validators 0-2 run honestly under load; evil_peer holds validator 3's keys
# and (a) opens raw connections with garbage and oversize frame headers, before and after a valid
# Noise handshake, then (b) over authenticated links sends votes with invalid signatures, replays,
# malformed envelopes, equivocating proposals and votes, and validly signed timeouts for stale
# rounds (which used to evict the last TC's signatures and stop the whole cluster). The honest nodes must close every
# bad connection, refuse the bad messages (cairn_peer_messages_refused_total), record the
# equivocation (cairn_equivocation_evidence_total, "equivocation evidence kind=proposal
# offender=3" in the log), keep committing, and agree on every block.
# Usage: test_cluster_byzantine.sh CAIRN CAIRND EVIL_PEER (docs/fault-tests.md).
source "$(dirname "$0")/lib.sh" "$1" "$2"
EVIL=$3
HONEST=(0 1 2)
EVIL_SECONDS=30

cluster_init 4
for i in "${HONEST[@]}"; do node_start "$i"; done
N=3 # fail() reports the honest nodes only
wait_until 15 "honest peer links up" at_least 0 cairn_peers_up 2
DEV=$(register_device 1 0)
load_worker 1 "$DEV" 0 1 2 &
track_pid $!
wait_until 20 "3 anchors acknowledged" acks_at_least 3

declare -A HS0 BF0 REF0
for i in "${HONEST[@]}"; do
  HS0[$i]=$(metric "$i" cairn_peer_handshakes_failed_total)
  BF0[$i]=$(metric "$i" cairn_peer_bad_frames_total)
  REF0[$i]=$(metric "$i" cairn_peer_messages_refused_total)
done

# (a) Raw connections: every one must be closed by the node.
log "evil_peer raw: garbage and oversize headers, before and after the handshake"
"$EVIL" raw "$T/net/node3" >"$T/evil_raw.out" 2>&1 || { cat "$T/evil_raw.out"; fail "evil_peer raw"; }
cat "$T/evil_raw.out"
for i in "${HONEST[@]}"; do
  hs=$(metric "$i" cairn_peer_handshakes_failed_total)
  bf=$(metric "$i" cairn_peer_bad_frames_total)
  [ "$hs" -ge $((HS0[$i] + 3)) ] || fail "node$i: handshakes failed ${HS0[$i]} -> $hs, want +3"
  [ "$bf" -ge $((BF0[$i] + 1)) ] || fail "node$i: bad frames ${BF0[$i]} -> $bf, want +1"
  node_alive "$i" || fail "node$i exited after raw garbage"
done
log "raw attacks refused: handshakes failed $(for i in "${HONEST[@]}"; do printf '%s ' "$(metric "$i" cairn_peer_handshakes_failed_total)"; done), bad frames $(for i in "${HONEST[@]}"; do printf '%s ' "$(metric "$i" cairn_peer_bad_frames_total)"; done)"

# (b) Authenticated links as validator 3, for EVIL_SECONDS; meanwhile the honest nodes commit.
h0=$(max_height "${HONEST[@]}")
"$EVIL" net "$T/net/node3" "$EVIL_SECONDS" >"$T/evil_net.out" 2>&1 &
EVIL_PID=$!
track_pid "$EVIL_PID"
log "evil_peer net for ${EVIL_SECONDS}s (heights $(heights))"
sleep 5 # into the attack: links up, equivocations, stale timeouts and garbage flowing
h0=$(max_height "${HONEST[@]}")
# Validator 3 votes (so leader reputation keeps electing it) but never proposes: its rounds end by
# timeout, so blocks come every few seconds; 2 within 20 s is the bound. (Before the to_put
# window fix in node/replica.c, its stale timeouts stopped the cluster for good here.)
wait_until 20 "honest nodes commit 2 blocks past $h0 during the attack" \
  min_height_at_least $((h0 + 2)) "${HONEST[@]}"
kill -0 "$EVIL_PID" 2>/dev/null || fail "evil_peer ended before the liveness check"
log "liveness under attack: heights $(heights)"
wait "$EVIL_PID" || { cat "$T/evil_net.out"; fail "evil_peer net failed"; }
cat "$T/evil_net.out"

evidence_nodes=0
for i in "${HONEST[@]}"; do
  node_alive "$i" || fail "node$i exited during the attack"
  ref=$(metric "$i" cairn_peer_messages_refused_total)
  ev=$(metric "$i" cairn_equivocation_evidence_total)
  log "node$i: refused ${REF0[$i]} -> $ref, equivocation evidence $ev"
  [ "$ref" -ge $((REF0[$i] + 100)) ] || fail "node$i refused only $((ref - REF0[$i])) bad messages"
  if [ "$ev" -ge 1 ] && grep -q 'equivocation evidence" kind=proposal offender=3' "$T/node$i.log"; then
    evidence_nodes=$((evidence_nodes + 1))
  fi
  grep 'equivocation evidence' "$T/node$i.log" | grep -v 'offender=3' &&
    fail "node$i accused an honest validator"
done
[ "$evidence_nodes" -ge 1 ] || fail "no honest node recorded the equivocating proposals"
grep -q 'equivocation evidence" kind=vote offender=3' "$T"/node[012].log ||
  fail "no honest node recorded the double vote"
log "$evidence_nodes of 3 honest nodes recorded validator 3's equivocating proposals"

h1=$(max_height "${HONEST[@]}")
wait_until 30 "honest nodes still commit after the attack" min_height_at_least $((h1 + 1)) "${HONEST[@]}"
touch "$T/stop"
wait "${EXTRA_PID[0]}" 2>/dev/null || true
wait_until 20 "honest nodes at the same height" all_equal_heights "${HONEST[@]}"
check_cluster same-blocks $(urls "${HONEST[@]}") || fail "block hashes differ"
check_cluster acks "$T/acks" $(urls "${HONEST[@]}") || fail "an acknowledged transaction is missing"
log "PASS: heights $(heights), $(acks) anchors acknowledged"
