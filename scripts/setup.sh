#!/usr/bin/env bash
# Install what the project needs (Debian 12 packages; only what is missing)
# and build it.  Idempotent.  Usage: scripts/setup.sh [BUILD_DIR [cmake args...]]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libjansson-dev libsqlite3-dev
	libssl-dev libcurl4-openssl-dev libxml2-dev check libsubunit-dev
	jq sqlite3 clang-format libxml2-utils openssl libmicrohttpd-dev
	libgnutls28-dev curl chromium socat fonts-dejavu-core
	libpq-dev postgresql valgrind clang libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${1:-build}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
