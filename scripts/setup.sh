#!/usr/bin/env bash
# Installs every Debian package rbench needs on a fresh Debian 12 machine, then configures and builds.
# Usage: scripts/setup.sh [--no-build | --target T]   (BUILD_DIR, BUILD_TYPE override the defaults)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates python3 python3-pytest patch
  libcli11-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libboost-dev libboost-filesystem-dev
  libfmt-dev libssl-dev libcurl4-openssl-dev libcpp-httplib-dev libpcre2-dev libseccomp-dev
  libginac-dev libzip-dev zlib1g-dev libutf8proc-dev libgtest-dev libgmock-dev libbenchmark-dev
  chromium
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# The HTML reports' browser tests run on Node.js (Debian's 18 or newer, whichever is installed).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# playwright-core, pinned by tests/browser/package-lock.json; reinstalled only when the lock file changed.
browser_tests=$here/tests/browser
if [ "$browser_tests/package-lock.json" -nt "$browser_tests/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$browser_tests" --no-audit --no-fund
fi
[ "${1:-}" = "--no-build" ] && exit 0
build=${BUILD_DIR:-$here/build}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
target=()
[ "${1:-}" = "--target" ] && target=(--target "$2")
cmake --build "$build" -j"$(nproc)" "${target[@]}"
