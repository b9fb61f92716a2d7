# tests/cluster/lib.sh — shared by the cluster fault tests (sourced, not run).
#
#   source lib.sh CAIRN CAIRND          sets $CAIRN, $CAIRND, $T (work dir), the EXIT trap
#   cluster_init N [HOST]               devnet of N validators in $T/net on a free base port
#   cluster_init_hosts N BASE H0 ...    devnet with one host per validator (--hosts)
#   node_start I / node_kill I / node_stop I
#   api I                               http://HOST:PORT of node I's API
#   metric I NAME                       one metric of node I ("" if it does not answer)
#   height I                            cairn_height of node I ("" if it does not answer)
#   wait_until SECONDS DESCRIPTION CMD...   polls CMD every 0.2 s; fails the test on timeout
#   fail MESSAGE                        prints the message and the nodes' last log lines, exits 1
#
# Every cairnd started here is killed (SIGKILL) on any exit, as is every background job the test
# registered with track_pid. CAIRN_CLUSTER_DEADLINE (seconds, default 300) bounds every wait.
# Node logs are in $T/node<i>.log (kept with CAIRN_KEEP=1).
set -euo pipefail

CAIRN=$1
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d /tmp/cairn-cluster-XXXXXX)
# The nodes run as $T/bin/validator (a symlink to cairnd): on a shared machine another session's
# `pkill cairnd` (seen while these tests were written) must not stop this test's nodes.
mkdir -p "$T/bin"
ln -s "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")" "$T/bin/validator"
CAIRND=$T/bin/validator
HOST=127.0.0.1
BASE=0
N=0
declare -a NODE_PID=()
declare -a NODE_HOST=() # per-node API host (cluster_init_hosts); default $HOST
declare -a NODE_NS=()   # per-node network namespace: metrics are read from inside it
declare -a EXTRA_PID=()
declare -a CLEANUP_HOOKS=()
T0=$SECONDS

log() { printf '# [%3ds] %s\n' "$((SECONDS - T0))" "$*"; }

track_pid() { EXTRA_PID+=("$1"); }

on_cleanup() { CLEANUP_HOOKS+=("$1"); }

lib_cleanup() {
  local rc=$? p
  trap - EXIT
  set +e
  for p in "${EXTRA_PID[@]}" "${NODE_PID[@]}"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  done
  for p in "${EXTRA_PID[@]}" "${NODE_PID[@]}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null
  done
  for p in "${CLEANUP_HOOKS[@]}"; do "$p"; done
  if [ "${CAIRN_KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  local i rc
  for ((i = 0; i < N; i++)); do
    if [ -n "${NODE_PID[$i]:-}" ] && ! kill -0 "${NODE_PID[$i]}" 2>/dev/null; then
      rc=0
      wait "${NODE_PID[$i]}" 2>/dev/null || rc=$?
      echo "--- node$i (pid ${NODE_PID[$i]}) died on its own: exit status $rc" \
        "$([ "$rc" -gt 128 ] && echo "(signal $((rc - 128)))")" >&2
      NODE_PID[$i]=
    fi
  done
  for ((i = 0; i < N; i++)); do
    echo "--- node$i: height=$(height "$i") cons=$(metric "$i" cairn_consensus_height)" \
      "round=$(metric "$i" cairn_consensus_round) (last log lines)" >&2
    tail -n 15 "$T/node$i.log" 2>/dev/null | sed 's/^/    /' >&2
  done
  exit 1
}

# A base port P such that P .. P+2n-1 are free on 127.0.0.1, below the ephemeral range.
free_base_port() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randrange(20000, 32000 - 2 * n, 2)
    ok = True
    for p in range(base, base + 2 * n):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base)
        sys.exit(0)
sys.exit("no free port range found")
PY
}

cluster_init() {
  N=$1
  HOST=${2:-127.0.0.1}
  BASE=$(free_base_port "$N")
  "$CAIRND" --init-devnet "$T/net" --validators "$N" --base-port "$BASE" --host "$HOST" \
    >"$T/init.out" 2>&1 || fail "init-devnet: $(cat "$T/init.out")"
  log "devnet of $N validators, base port $BASE"
}

# cluster_init_hosts N BASE H0 H1 ...: devnet of N validators, node i on host Hi (--hosts).
cluster_init_hosts() {
  N=$1
  BASE=$2
  shift 2
  NODE_HOST=("$@")
  local list
  list=$(IFS=,; echo "$*")
  "$CAIRND" --init-devnet "$T/net" --validators "$N" --base-port "$BASE" --hosts "$list" \
    >"$T/init.out" 2>&1 || fail "init-devnet: $(cat "$T/init.out")"
  log "devnet of $N validators on $list, base port $BASE"
}

api() { echo "http://${NODE_HOST[$1]:-$HOST}:$((BASE + 2 * $1))"; }

# ncurl I ARGS...: curl run where node I's API is reachable even when its links are cut.
ncurl() {
  local i=$1
  shift
  if [ -n "${NODE_NS[$i]:-}" ]; then ip netns exec "${NODE_NS[$i]}" curl "$@"; else curl "$@"; fi
}

metric() {
  ncurl "$1" -s -m 2 "$(api "$1")/metrics" 2>/dev/null | awk -v m="$2" '$1 == m { print $2 }' || true
}

height() { metric "$1" cairn_height; }

healthy() { ncurl "$1" -sf -m 2 "$(api "$1")/healthz" >/dev/null 2>&1; }

# node_start I [PREFIX...]: runs cairnd for node I (PREFIX, e.g. `ip netns exec ns`, before it).
node_start() {
  local i=$1
  shift
  "$@" "$CAIRND" --home "$T/net/node$i" >>"$T/node$i.log" 2>&1 &
  NODE_PID[$i]=$!
  wait_until 15 "node$i answers /healthz" healthy "$i"
}

node_kill() {
  local i=$1
  [ -n "${NODE_PID[$i]:-}" ] || return 0
  kill -9 "${NODE_PID[$i]}" 2>/dev/null || true
  wait "${NODE_PID[$i]}" 2>/dev/null || true
  NODE_PID[$i]=
}

node_stop() {
  local i=$1
  [ -n "${NODE_PID[$i]:-}" ] || return 0
  kill -TERM "${NODE_PID[$i]}" 2>/dev/null || true
  wait "${NODE_PID[$i]}" 2>/dev/null || true
  NODE_PID[$i]=
}

# 1 if node I's process is still alive.
node_alive() { [ -n "${NODE_PID[$1]:-}" ] && kill -0 "${NODE_PID[$1]}" 2>/dev/null; }

# The whole test's own deadline (ctest passes its TIMEOUT minus a margin): past it, the test fails
# through its EXIT trap, which kills every node, rather than being killed by ctest without one.
DEADLINE=$((T0 + ${CAIRN_CLUSTER_DEADLINE:-300}))

wait_until() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  while ! "$@"; do
    [ "$SECONDS" -lt "$end" ] || fail "timeout after ${limit}s: $what"
    [ "$SECONDS" -lt "$DEADLINE" ] || fail "test deadline (${CAIRN_CLUSTER_DEADLINE:-300}s) passed: $what"
    sleep 0.2
  done
}

# at_least I NAME VALUE: node I's metric NAME is >= VALUE.
at_least() {
  local v
  v=$(metric "$1" "$2")
  [ -n "$v" ] && [ "${v%.*}" -ge "$3" ]
}

# The smallest / largest cairn_height over the given nodes ("" if one does not answer).
min_height() {
  local m="" h i
  for i in "$@"; do
    h=$(height "$i")
    [ -n "$h" ] || { echo ""; return; }
    if [ -z "$m" ] || [ "$h" -lt "$m" ]; then m=$h; fi
  done
  echo "$m"
}

max_height() {
  local m=0 h i
  for i in "$@"; do
    h=$(height "$i")
    if [ -n "$h" ] && [ "$h" -gt "$m" ]; then m=$h; fi
  done
  echo "$m"
}

heights() {
  local i out=""
  for ((i = 0; i < N; i++)); do out+="node$i=$(height "$i") "; done
  echo "$out"
}

# min_height_at_least H I...: every listed node's height is >= H.
min_height_at_least() {
  local want=$1 m
  shift
  m=$(min_height "$@")
  [ -n "$m" ] && [ "$m" -ge "$want" ]
}

# all_equal_heights I...: every listed node answers and all have the same cairn_height.
all_equal_heights() {
  local first="" h i
  for i in "$@"; do
    h=$(height "$i")
    [ -n "$h" ] || return 1
    [ -z "$first" ] && first=$h
    [ "$h" = "$first" ] || return 1
  done
}

# Registers a device with its own Ed25519 key: prints its device id. $T/dev<k>.key.
register_device() {
  local k=$1 node=$2 out
  "$CAIRN" key new --alg ed25519 --out "$T/dev$k.key" >/dev/null
  out=$("$CAIRN" device register --node "$(api "$node")" --key "$T/net/admin.key" --org dev-org \
    --device-key "$T/dev$k.key" --class sensor --id "devid:fault-$k-$$" 2>&1) ||
    fail "device register $k: $out"
  grep -q "status: committed" <<<"$out" || fail "device register $k not committed: $out"
  sed -n 's/^device_id: //p' <<<"$out"
}

# load_worker K DEV NODES...: anchors until $T/stop exists, each to the next node of NODES in
# turn; every anchor the CLI reports committed is appended to $T/acks as "tx_hash height node".
load_worker() {
  local k=$1 dev=$2
  shift 2
  local nodes=("$@") j=0 node out d tx h
  while [ ! -e "$T/stop" ]; do
    node=${nodes[$((j % ${#nodes[@]}))]}
    j=$((j + 1))
    d=$(printf 'fault %s %s %s' "$$" "$k" "$j" | sha256sum | cut -d' ' -f1)
    out=$("$CAIRN" anchor --node "$(api "$node")" --key "$T/dev$k.key" --device "$dev" \
      --stream "w$k-$j" --seq 1 --digest "$d" 2>&1) || { sleep 0.05; continue; }
    if grep -q "status: committed" <<<"$out"; then
      tx=$(sed -n 's/^tx_hash: //p' <<<"$out")
      h=$(sed -n 's/^status: committed (height \([0-9]*\),.*/\1/p' <<<"$out")
      echo "$tx $h $node" >>"$T/acks"
    fi
  done
}

acks() { if [ -f "$T/acks" ]; then wc -l <"$T/acks"; else echo 0; fi; }
acks_at_least() { [ "$(acks)" -ge "$1" ]; }

# check_cluster ARGS...: the Python checks (same blocks, acknowledged transactions).
check_cluster() { python3 "$LIB_DIR/cluster_check.py" "$@"; }

# The URLs of the given nodes, one argument each.
urls() {
  local i
  for i in "$@"; do api "$i"; done
}
