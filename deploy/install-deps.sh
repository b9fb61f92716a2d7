#!/usr/bin/env bash
# Installs the Debian 12 packages Cairn needs to build, run, test and benchmark.
# Idempotent: installs only what is missing, and does nothing when all is present.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  protobuf-c-compiler libprotobuf-c-dev
  # libraries (see README "Dependencies")
  libsodium-dev liblmdb-dev libuv1-dev libsecp256k1-dev libssl-dev
  libjansson-dev libmicrohttpd-dev
  # tests and tools
  libcmocka-dev lmdb-utils curl jq iproute2 python3
  # cluster_netns only: packet loss between its namespace hosts where the kernel has no sch_netem
  # (an nft drop rule in each host's namespace; docs/fault-tests.md)
  nftables
  # cairn-bench cluster: the etcd cluster it runs side by side
  etcd-server
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
