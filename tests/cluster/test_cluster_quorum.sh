#!/usr/bin/env bash
# kill -9 two of 4 validators: the two survivors (no quorum) commit nothing — their consensus
# height stays put, a transaction they accept stays pending — and keep serving; restart one:
# commits resume within 20 s and the pending transaction commits; restart the other: all four
# agree. Usage: test_cluster_quorum.sh CAIRN CAIRND (docs/fault-tests.md).
source "$(dirname "$0")/lib.sh" "$1" "$2"

cons() { metric "$1" cairn_consensus_height; }

cluster_init 4
for i in 0 1 2 3; do node_start "$i"; done
wait_until 15 "all peer links up" at_least 0 cairn_peers_up 3
DEV=$(register_device 1 0)
log "device registered; heights $(heights)"

log "kill -9 node1 and node2"
node_kill 1
node_kill 2
sleep 2 # what was already certified may still commit; after this nothing may
c0=$(cons 0)
c3=$(cons 3)
r0=$(metric 0 cairn_consensus_round)
[ -n "$c0" ] && [ -n "$c3" ] || fail "survivors do not answer /metrics"

# A transaction submitted now is accepted (202) and stays pending.
D=$(printf 'quorum %s' "$$" | sha256sum | cut -d' ' -f1)
out=$("$CAIRN" anchor --node "$(api 0)" --no-wait --key "$T/dev1.key" --device "$DEV" --stream q \
  --seq 1 --digest "$D" 2>&1) || fail "submission refused without quorum: $out"
TX=$(sed -n 's/^tx_hash: //p' <<<"$out")
[ -n "$TX" ] || fail "no tx hash: $out"
sleep 4
[ "$(cons 0)" = "$c0" ] || fail "node0 committed without a quorum: consensus height $c0 -> $(cons 0)"
[ "$(cons 3)" = "$c3" ] || fail "node3 committed without a quorum: consensus height $c3 -> $(cons 3)"
for i in 0 3; do
  healthy "$i" || fail "node$i /healthz does not answer without a quorum"
  node_alive "$i" || fail "node$i exited without a quorum"
  st=$(curl -s "$(api "$i")/v1/txs/$TX")
  [ "$i" = 3 ] && grep -q '"status":"committed"' <<<"$st" && fail "node3: tx committed: $st"
done
grep -q '"status":"pending"' <<<"$(curl -s "$(api 0)/v1/txs/$TX")" ||
  fail "tx not pending on node0: $(curl -s "$(api 0)/v1/txs/$TX")"
log "no commit in 4 s without quorum (consensus heights $c0/$c3, round $r0 -> $(metric 0 cairn_consensus_round), timeouts $(metric 0 cairn_rounds_timeout_total)); tx pending"

committed_on() { grep -q '"status":"committed"' <<<"$(curl -s -m 2 "$(api "$1")/v1/txs/$TX")"; }

node_start 1
wait_until 20 "commits resume after node1 restarts" committed_on 0
wait_until 10 "the pending tx commits on node3" committed_on 3
wait_until 15 "node1 has the pending tx" committed_on 1
[ "$(cons 0)" -gt "$c0" ] || fail "consensus height did not advance"
log "quorum back: tx committed; consensus heights $(cons 0)/$(cons 1)/$(cons 3)"

node_start 2
wait_until 30 "node2 catches up" committed_on 2
wait_until 20 "all four at the same height" all_equal_heights 0 1 2 3
check_cluster same-blocks $(urls 0 1 2 3) || fail "block hashes differ"
log "PASS: heights $(heights)"
