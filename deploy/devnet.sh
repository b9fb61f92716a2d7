#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs a local devnet of validators on this
# machine, runs the walkthrough demo against it and keeps the nodes running for you until Ctrl-C.
#
#   deploy/devnet.sh           the cluster: `cairnd --init-devnet ./cairn-devnet` writes
#                              $CAIRN_VALIDATORS (default 4) validator homes node0..node<N-1> with
#                              one genesis (./cairn-devnet/genesis.json) and one admin key
#                              (./cairn-devnet/admin.key, organization dev-org); node i serves its
#                              API on http://127.0.0.1:$((CAIRN_PORT + 2i)) and its peer links on
#                              the port after it (CAIRN_PORT defaults to 7750). One
#                              `cairnd --home ./cairn-devnet/node<i>` runs per validator, logging
#                              to ./cairn-devnet/node<i>/cairnd.log. The demo talks to node0.
#   deploy/devnet.sh --single  the single-node development home instead: `cairnd --dev`, home
#                              ./cairn-dev, API on http://127.0.0.1:$CAIRN_PORT.
#
# Rerunning reuses the ledgers (the homes are only created once; a devnet directory made for
# another validator count is refused: remove ./cairn-devnet to start over). CAIRN_DEMO_EXIT=1
# stops the nodes after the demo. Ctrl-C (or SIGTERM) stops every node gracefully: each commits
# what it accepted, and the script waits for all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=cluster
case "${1:-}" in
  "") ;;
  --single) MODE=single ;;
  *) echo "usage: $0 [--single]" >&2; exit 2 ;;
esac

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

PORT=${CAIRN_PORT:-7750}
PIDS=()
stop_nodes() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap stop_nodes EXIT
trap 'exit 130' INT TERM # the EXIT trap stops the nodes

# ports_free FIRST COUNT: fails, naming it, if something already listens on a port of the range
# (another node would answer our health checks and the demo).
ports_free() {
  local p
  for ((p = $1; p < $1 + $2; p++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "port $p is in use (another devnet?): stop it or set CAIRN_PORT" >&2
      return 1
    fi
  done
}

# wait_healthy URL PID LOG: until URL/healthz answers 200 from our node; fails if it exits or
# after 15 s.
wait_healthy() {
  local _
  for _ in $(seq 150); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "cairnd for $1 exited. Last lines of $3:" >&2
      tail -n 5 "$3" >&2
      return 1
    fi
    curl -sf "$1/healthz" >/dev/null && kill -0 "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not become healthy within 15 s; see $3" >&2
  return 1
}

if [ "$MODE" = single ]; then
  HOME_DIR=cairn-dev
  ports_free "$PORT" 1
  build/bin/cairnd --dev --home "$HOME_DIR" --port "$PORT" &
  PIDS+=($!)
  wait_healthy "http://127.0.0.1:$PORT" "${PIDS[0]}" /dev/null
  NODES="http://127.0.0.1:$PORT (home ./$HOME_DIR)"
else
  N=${CAIRN_VALIDATORS:-4}
  HOME_DIR=cairn-devnet
  build/bin/cairnd --init-devnet "$HOME_DIR" --validators "$N" --base-port "$PORT"
  ports_free "$PORT" $((2 * N))
  for ((i = 0; i < N; i++)); do
    LOG=$HOME_DIR/node$i/cairnd.log
    printf '\n== cairnd --home %s/node%d started %s\n' "$HOME_DIR" "$i" "$(date -u +%FT%TZ)" >>"$LOG"
    build/bin/cairnd --home "$HOME_DIR/node$i" >>"$LOG" 2>&1 &
    PIDS+=($!)
  done
  NODES=""
  for ((i = 0; i < N; i++)); do
    URL=http://127.0.0.1:$((PORT + 2 * i))
    wait_healthy "$URL" "${PIDS[$i]}" "$HOME_DIR/node$i/cairnd.log"
    NODES+=$'\n'"  node$i  $URL  (home ./$HOME_DIR/node$i, log ./$HOME_DIR/node$i/cairnd.log)"
  done
  echo "devnet: $N validators healthy:$NODES"
fi

export CAIRN_NODE=http://127.0.0.1:$PORT CAIRN_HOME=$HOME_DIR
./deploy/demo.sh

if [ "${CAIRN_DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
printf '\nThe nodes keep running: %s\nCtrl-C stops them; the ledgers stay in ./%s.\n' "$NODES" "$HOME_DIR"
wait "${PIDS[@]}"
