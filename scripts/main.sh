#!/usr/bin/env bash
# The main job on embedded defaults: set up, build, evaluate the embedded `arith` suite, store every
# sample in rbench.db and print the leaderboard. Rerunning resumes instead of redoing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
rbench=${BUILD_DIR:-$here/build}/rbench
db=${RBENCH_DB:-$here/rbench.db}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Until the bundled model lands (engine issue), the default model is the suite's own reference
# solutions replayed through the full pipeline: a check of the loop, the grader and the store.
"$rbench" suites export arith --as-replay --samples 4 >"$work/arith-reference.jsonl"
"$rbench" run --model "replay:$work/arith-reference.jsonl" --suite arith --samples 4 --db "$db" --tag demo
"$rbench" report --db "$db"
