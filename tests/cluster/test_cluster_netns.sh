#!/usr/bin/env bash
# Four validators on four network-namespace hosts (10.77.X.1-4, veth pairs to a bridge in the root
# namespace, which is 10.77.X.254): with delay 20 ms +- 5 ms and 1% loss between the hosts,
# commits continue under load; node0's link is cut (a partition): the other three keep
# committing, node0 commits nothing conflicting (its blocks stay a prefix of theirs) and a
# transaction it accepted stays pending; the link is restored: node0 catches up, the pending
# transaction commits, and all four have identical block hashes and every acknowledged anchor.
#
# Delay and loss: `tc netem delay 20ms 5ms loss 1%` on every host's eth0 where the kernel has
# sch_netem. Where it has not (the machine these tests were written on), an nftables rule in each
# host's namespace drops 1% of the packets arriving on its eth0, and every peer link goes through
# tests/cluster/delay_relay.py in the root namespace, which writes each chunk of the byte stream
# 20 ms +- 5 ms after it read it (docs/fault-tests.md: what that does and does not emulate). Either
# way the phase runs and commits must continue through it; the fallback also checks that packets
# were dropped and chunks relayed, none sooner than 15 ms. Delay and loss stay on to the end, as
# netem does. Without netem and without nft the test fails (deploy/install-deps.sh installs
# nftables) rather than skip the phase.
#
# Needs root and `ip netns` (exit 77, ctest's skip, with the reason otherwise).
# CAIRN_NETNS_REQUIRE_NETEM=1: skip (exit 77) unless the kernel's netem can run the phase.
# CAIRN_NETNS_NO_NETEM=1: use nftables + the relay even where netem works.
# Usage: test_cluster_netns.sh CAIRN CAIRND (docs/fault-tests.md).
source "$(dirname "$0")/lib.sh" "$1" "$2"

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "no ip command (iproute2)"

TAG=cz$(($$ % 100000))
BR=${TAG}br
NS=()
cleanup_netns() {
  local i
  for i in 0 1 2 3; do ip netns del "${TAG}n$i" 2>/dev/null; done
  ip link del "$BR" 2>/dev/null
  for i in 0 1 2 3; do ip link del "${TAG}v$i" 2>/dev/null; done
}
on_cleanup cleanup_netns
ip netns add "${TAG}n0" 2>"$T/netns.err" || skip "ip netns add is not permitted here: $(cat "$T/netns.err")"

# A 10.77.X.0/24 that no route uses yet (tests may run in parallel).
X=
for k in $(seq 0 40); do
  c=$(( ($$ + k) % 200 + 20 ))
  if [ -z "$(ip route show "10.77.$c.0/24" 2>/dev/null)" ]; then X=$c; break; fi
done
[ -n "$X" ] || fail "no free 10.77.X.0/24 subnet"

ip link add "$BR" type bridge || skip "cannot create a bridge"
ip addr add "10.77.$X.254/24" dev "$BR"
ip link set "$BR" up
HOSTS=()
for i in 0 1 2 3; do
  ns=${TAG}n$i
  [ "$i" = 0 ] || ip netns add "$ns"
  NS[$i]=$ns
  ip link add "${TAG}v$i" type veth peer name "${TAG}p$i"
  ip link set "${TAG}p$i" netns "$ns"
  ip -n "$ns" link set "${TAG}p$i" name eth0
  ip -n "$ns" addr add "10.77.$X.$((i + 1))/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip link set "${TAG}v$i" master "$BR"
  ip link set "${TAG}v$i" up
  HOSTS+=("10.77.$X.$((i + 1))")
done
# Reachability without ping: a TCP connect to a closed port of host 4 is refused (not timed out).
reach=$(ip netns exec "${TAG}n0" timeout 5 bash -c "exec 3<>/dev/tcp/10.77.$X.4/9" 2>&1 || true)
grep -q "refused" <<<"$reach" || fail "namespace 0 cannot reach 10.77.$X.4: $reach"

DELAY_MS=20
JITTER_MS=5
LOSS_PCT=1
NETEM=1
if [ "${CAIRN_NETNS_NO_NETEM:-0}" = 1 ]; then
  NETEM=0
  why="CAIRN_NETNS_NO_NETEM=1"
elif ! tc -n "${NS[0]}" qdisc add dev eth0 root netem delay "${DELAY_MS}ms" "${JITTER_MS}ms" \
  loss "${LOSS_PCT}%" 2>"$T/tc.err"; then
  NETEM=0
  why="tc netem: $(cat "$T/tc.err")"
  [ "${CAIRN_NETNS_REQUIRE_NETEM:-0}" = 1 ] && skip "tc netem is not available: $why"
fi
if [ "$NETEM" = 1 ]; then
  for i in 1 2 3; do
    tc -n "${NS[$i]}" qdisc add dev eth0 root netem delay "${DELAY_MS}ms" "${JITTER_MS}ms" \
      loss "${LOSS_PCT}%"
  done
  log "delay ${DELAY_MS} ms +- ${JITTER_MS} ms and ${LOSS_PCT}% loss by netem on every host's eth0"
else
  # Loss: in each host's namespace (never in the root namespace), a counted random drop of
  # LOSS_PCT% of the packets arriving on its eth0.
  command -v nft >/dev/null ||
    fail "no netem ($why) and no nft: the delay/loss phase needs nftables (deploy/install-deps.sh)"
  for i in 0 1 2 3; do
    ip netns exec "${NS[$i]}" nft -f - 2>"$T/nft.err" <<NFT || fail "nft in ${NS[$i]}: $(cat "$T/nft.err")"
table inet cz {
  chain in {
    type filter hook input priority 0; policy accept;
    iifname "eth0" numgen random mod 100 < $LOSS_PCT counter drop
  }
}
NFT
  done
  log "no netem ($why): ${LOSS_PCT}% loss by nftables in each host, delay by delay_relay.py"
fi

# nft_drops: the packets the loss rules have dropped, summed over the four hosts.
nft_drops() {
  local i n sum=0
  for i in 0 1 2 3; do
    n=$(ip netns exec "${NS[$i]}" nft list chain inet cz in |
      sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
    sum=$((sum + ${n:-0}))
  done
  echo "$sum"
}
# relay_stat KEY: one value of the relay's stats file.
relay_stat() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/relay.stats" "$1"
}

cluster_init_hosts 4 7900 "${HOSTS[@]}"
if [ "$NETEM" = 0 ]; then
  # The relay listens on the bridge address, one port per ordered pair (i, j), and forwards to
  # j's p2p address in the genesis; node i's p2p.peers names that port for peer j (its own entry
  # keeps its own address). Peers are known by their Noise keys, so the relay is transparent.
  routes=()
  while read -r j addr; do
    for i in 0 1 2 3; do [ "$i" = "$j" ] || routes+=(--route "$i:$j:$addr"); done
  done < <(python3 - "$T/net/genesis.json" "${HOSTS[@]}" <<'PY'
import json, sys
hosts = sys.argv[2:]
for v in json.load(open(sys.argv[1]))["validators"]:
    print(hosts.index(v["address"].rsplit(":", 1)[0]), v["address"])
PY
  )
  python3 "$LIB_DIR/delay_relay.py" --listen "10.77.$X.254" "${routes[@]}" --ports "$T/relay.ports" \
    --stats "$T/relay.stats" --delay-ms "$DELAY_MS" --jitter-ms "$JITTER_MS" --parent $$ \
    --max-seconds $((${CAIRN_CLUSTER_DEADLINE:-300} + 30)) >"$T/relay.log" 2>&1 &
  RELAY_PID=$!
  track_pid "$RELAY_PID"
  relay_ready() {
    kill -0 "$RELAY_PID" 2>/dev/null || fail "delay_relay.py exited: $(cat "$T/relay.log")"
    [ -s "$T/relay.ports" ]
  }
  wait_until 10 "the relay listens" relay_ready
  python3 - "$T/net" "$T/relay.ports" "10.77.$X.254" "${HOSTS[@]}" <<'PY'
import json, sys
net, ports, relay, hosts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
port = {}
for line in open(ports):
    i, j, p = map(int, line.split())
    port[i, j] = p
validators = json.load(open(net + "/genesis.json"))["validators"]
for i in range(len(hosts)):
    peers = []
    for v in validators:
        j = hosts.index(v["address"].rsplit(":", 1)[0])
        peers.append(v["address"] if j == i else "%s:%d" % (relay, port[i, j]))
    path = "%s/node%d/config.json" % (net, i)
    with open(path) as f:
        cfg = json.load(f)
    cfg["p2p"]["peers"] = peers
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
PY
  log "relay on 10.77.$X.254 for $(wc -l <"$T/relay.ports") ordered pairs; node0's p2p.peers:" \
    "$(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["p2p"]["peers"])' \
      "$T/net/node0/config.json")"
fi

NODE_NS=("${NS[@]}")
for i in 0 1 2 3; do node_start "$i" ip netns exec "${NS[$i]}"; done
wait_until 20 "all peer links up" at_least 0 cairn_peers_up 3
for k in 1 2; do DEV[$k]=$(register_device "$k" "$k"); done
# The load goes to nodes 1-3 (the test's CLI runs in the root namespace and cannot reach node0
# while it is cut off); node0 gets the transactions as batches from its peers.
load_worker 1 "${DEV[1]}" 1 2 3 &
LOAD_PID=($!)
track_pid $!
load_worker 2 "${DEV[2]}" 3 2 1 &
LOAD_PID+=($!)
track_pid $!
wait_until 30 "3 anchors acknowledged" acks_at_least 3

# The delay/loss phase: commits continue (3 blocks in 40 s). Without netem, loss and delay must
# also be seen to happen during it: packets dropped, chunks relayed, none released sooner than
# DELAY_MS - JITTER_MS after it was read.
h=$(max_height 0 1 2 3)
if [ "$NETEM" = 0 ]; then
  d0=$(nft_drops)
  c0=$(relay_stat chunks)
fi
wait_until 40 "commits continue under delay and loss (3 blocks past $h)" \
  min_height_at_least $((h + 3)) 0 1 2 3
if [ "$NETEM" = 1 ]; then
  log "netem delay ${DELAY_MS} ms +- ${JITTER_MS} ms, ${LOSS_PCT}% loss: heights $(heights)"
else
  drops_past() { [ "$(nft_drops)" -gt "$1" ]; }
  wait_until 20 "nftables drops a packet during the phase (counter past $d0)" drops_past "$d0"
  c1=$(relay_stat chunks)
  [ "$c1" -gt "$c0" ] || fail "the relay relayed nothing during the phase ($c0 chunks, then $c1)"
  dmin=$(relay_stat delay_min_ms)
  python3 -c 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))' \
    "$dmin" "$((DELAY_MS - JITTER_MS))" ||
    fail "the relay released a chunk $dmin ms after reading it, sooner than $((DELAY_MS - JITTER_MS)) ms"
  d1=$(nft_drops)
  log "relay delay ${DELAY_MS} ms +- ${JITTER_MS} ms, nftables ${LOSS_PCT}% loss: heights $(heights)"
  log "  during the phase: $((d1 - d0)) packets dropped, $((c1 - c0)) chunks relayed;" \
    "so far: $d1 dropped, $c1 relayed, applied delay min/avg/max" \
    "$dmin/$(relay_stat delay_avg_ms)/$(relay_stat delay_max_ms) ms"
fi

# Partition: node0's link to the bridge goes down.
ip link set "${TAG}v0" down
p0=$(height 0)
log "node0 cut off (heights $(heights))"
D=$(printf 'netns %s' "$$" | sha256sum | cut -d' ' -f1)
out=$(ip netns exec "${NS[0]}" "$CAIRN" anchor --node "$(api 0)" --no-wait --key "$T/dev1.key" \
  --device "${DEV[1]}" --stream partitioned --seq 1 --digest "$D" 2>&1) ||
  fail "node0 refused a transaction while partitioned: $out"
TX=$(sed -n 's/^tx_hash: //p' <<<"$out")
h=$(max_height 1 2 3)
wait_until 40 "nodes 1-3 commit 3 blocks past $h without node0" min_height_at_least $((h + 3)) 1 2 3
sleep 1
p1=$(height 0)
grep -q '"status":"pending"' <<<"$(ncurl 0 -s "$(api 0)/v1/txs/$TX")" ||
  fail "node0's tx is not pending while partitioned: $(ncurl 0 -s "$(api 0)/v1/txs/$TX")"
# What node0 holds now must turn out to be the majority's blocks at the same heights.
: >"$T/node0.blocks"
for ((k = 1; k <= p1; k++)); do
  ncurl 0 -s "$(api 0)/v1/blocks/$k" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])' \
    >>"$T/node0.blocks"
done
log "partitioned: node0 height $p0 -> $p1, others $(max_height 1 2 3); node0's tx pending"

ip link set "${TAG}v0" up
target=$(max_height 1 2 3)
wait_until 40 "node0 catches up to $target after the partition heals" min_height_at_least "$target" 0
committed0() { grep -q '"status":"committed"' <<<"$(ncurl 0 -s -m 2 "$(api 0)/v1/txs/$TX")"; }
wait_until 30 "node0's partitioned tx commits after the heal" committed0
log "healed: heights $(heights)"
k=0
while read -r hash; do
  k=$((k + 1))
  other=$(curl -s "$(api 1)/v1/blocks/$k" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
  [ "$hash" = "$other" ] || fail "node0 had block $hash at height $k during the partition, node1 has $other"
done <"$T/node0.blocks"

touch "$T/stop"
for p in "${LOAD_PID[@]}"; do wait "$p" 2>/dev/null || true; done
EXTRA_PID=() # the load workers are gone; the relay (if any) runs to the end
if [ -n "${RELAY_PID:-}" ]; then EXTRA_PID=("$RELAY_PID"); fi
wait_until 30 "all four at the same height" all_equal_heights 0 1 2 3
check_cluster same-blocks $(urls 0 1 2 3) || fail "block hashes differ"
check_cluster acks "$T/acks" $(urls 0 1 2 3) || fail "an acknowledged transaction is missing"
if [ "$NETEM" = 0 ]; then log "at the end: $(nft_drops) packets dropped; relay $(cat "$T/relay.stats")"; fi
log "PASS: heights $(heights)(delay and loss by $([ "$NETEM" = 1 ] && echo netem || echo 'delay_relay.py and nftables'))"
