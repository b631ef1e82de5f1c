#!/usr/bin/env bash
# Packs built binaries, with the shared libraries the GPU machine lacks (GiNaC, CLN, libzip, cpp-httplib, Boost,
# GoogleTest), into .device/ (git-ignored) for the `device` tool's `carry`. On the GPU machine:
#   export LD_LIBRARY_PATH=$PWD/.device/lib; .device/bin/rbench env; .device/bin/test_gpu_device
# Usage: scripts/device_bundle.sh BINARY...   (e.g. build/rbench build/tests/test_gpu_device)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
mkdir -p .device/bin .device/lib
for binary in "$@"; do
  strip -o ".device/bin/$(basename "$binary")" "$binary"
  ldd "$binary" | awk '/ginac|cln|libzip|httplib|gtest|gmock|boost/ {print $3}' | xargs -r cp -L -t .device/lib
done
du -sh .device
