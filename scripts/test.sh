#!/usr/bin/env bash
# Builds (installing what is missing) and runs the whole test suite. GPU tests print SKIPPED without a GPU.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
"$here/scripts/setup.sh"
export RBENCH_SHARED=${RBENCH_SHARED:-$here/../shared}
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
