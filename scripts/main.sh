#!/usr/bin/env bash
# The main job on embedded defaults: set up, build, then evaluate the two bundled models on the embedded
# `arith` suite with the built-in engine on the CPU (DeepSeek-R1 protocol: T=0.6, top-p 0.95, 4 samples per
# problem), store every sample in rbench.db, and print the leaderboard and the paired head-to-head.
# Rerunning resumes instead of redoing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh" --target rbench
rbench=${BUILD_DIR:-$here/build}/rbench
db=${RBENCH_DB:-$here/rbench.db}

runs=()
for model in arith-moe arith-moe-early; do
  "$rbench" run --model "engine:$here/models/$model" --suite arith --samples 4 --max-tokens 512 \
      --concurrency 32 --seed 1 --db "$db" --tag demo
  runs+=("$("$rbench" runs --db "$db" --tag demo | awk -v m="$model" '$2 == m {print $1; exit}')")
done
"$rbench" report --db "$db" --tag demo
"$rbench" compare --db "$db" "${runs[1]}" "${runs[0]}"
