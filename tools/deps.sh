#!/usr/bin/env bash
# Installs every Debian package mend needs to build, test and run.
# Idempotent: packages already present are skipped; apt is only touched when something is missing.
# Works as root on a fresh Debian 12 machine (uses sudo when not root and sudo exists).
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git
  libboost1.81-dev libboost-program-options1.81-dev
  protobuf-compiler libprotobuf-dev
  libssl-dev openssl
  libsqlite3-dev sqlite3
  libpq-dev postgresql haproxy
  libxxhash-dev
  doctest-dev
  libspdlog-dev libfmt-dev
  libbenchmark-dev
  tmux valgrind procps ccache
  python3 curl
  clang-14 libclang-rt-14-dev llvm-14
  chromium
  iproute2
)

# Node.js and npm for the TypeScript SDK (client-lib/typescript). Checked by command, not by
# package name: a machine may have them from elsewhere (e.g. nodesource's nodejs bundles npm).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
