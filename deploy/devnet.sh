#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts a local development node
# (`cairnd --dev`, home ./cairn-dev, API on http://127.0.0.1:7750), runs the walkthrough demo
# against it, and keeps the node running for you to use until Ctrl-C. Rerunning reuses the
# ledger in ./cairn-dev. CAIRN_DEMO_EXIT=1 stops the node after the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

PORT=${CAIRN_PORT:-7750}
export CAIRN_NODE=http://127.0.0.1:$PORT CAIRN_HOME=cairn-dev
build/bin/cairnd --dev --home cairn-dev --port "$PORT" &
NODE=$!
trap 'kill -TERM $NODE 2>/dev/null; wait $NODE 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  curl -sf "$CAIRN_NODE/healthz" >/dev/null && break
  kill -0 $NODE 2>/dev/null || { echo "cairnd did not start (port $PORT in use? set CAIRN_PORT)"; exit 1; }
  sleep 0.1
done

./deploy/demo.sh

if [ "${CAIRN_DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
printf '\nThe node keeps running at %s (home ./cairn-dev). Ctrl-C stops it; the ledger stays.\n' "$CAIRN_NODE"
wait $NODE
