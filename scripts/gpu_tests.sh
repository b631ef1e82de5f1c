#!/usr/bin/env bash
# The CUDA engine on the GPU machine: its tests, its benchmark beside the transformers peer, and an
# end-to-end evaluation. Logs and JSON lines go to $OUT; a table of the figures is printed last.
#
# Build here (CUDA on), then pack and copy what travels:
#   cmake --build BUILD --target rbench test_gpu_device test_gpu_ops test_gpu_engine
#   scripts/device_bundle.sh BUILD/rbench BUILD/tests/test_gpu_{device,ops,engine}
#   mkdir -p .device/shared/peers && cp -r ../shared/fixtures .device/shared/ &&
#     cp ../shared/peers/hf_generate_baseline.py .device/shared/peers/
# On the GPU machine (the device tool's `run`, carry [".device"]):
#   scripts/gpu_tests.sh tests bench peers-eager
# Steps: tests | bench | peers-eager | peers-compile | run | ncu (per-kernel times of a decode step) | ab (this
# build against a baseline's rbench in .device/base, interleaved). PROMPT, GEN (128 each), BATCHES (1,64) and
# SHAPES (qwen2-1.5b,qwen3-30b-a3b) set the benchmark; BENCH_ARGS adds flags (e.g. --profile). BUDGET (seconds)
# keeps a call inside the device tool's limit: steps start only while it lasts, and the peers stop at its end,
# so list the steps most needed first (a start can take many tries; the call that comes may be the only one).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/rbench-gpu}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.device/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
export RBENCH_SHARED=${RBENCH_SHARED:-$PWD/.device/shared}
export PYTHONUNBUFFERED=1
PROMPT=${PROMPT:-128}
GEN=${GEN:-128}
BATCHES=${BATCHES:-1,64}
SHAPES=${SHAPES:-qwen2-1.5b,qwen3-30b-a3b}
BIN=.device/bin
status=0

run_tests() {
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
  for test in test_gpu_device test_gpu_ops test_gpu_engine; do
    echo "== $test"
    "$BIN/$test" 2>&1 | tee -a "$OUT/tests.log" | grep -vE '^\[ (RUN|      OK) ' | head -150
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
}

bench_shape() {  # $1: the folder of the rbench to run, $2: the shape
  "$1/rbench" bench --shape "$2" --batch "$BATCHES" --prompt "$PROMPT" --gen "$GEN" ${BENCH_ARGS:-}
}

run_bench() {
  for shape in ${SHAPES//,/ }; do
    echo "== rbench bench --shape $shape --batch $BATCHES --prompt $PROMPT --gen $GEN"
    bench_shape "$BIN" "$shape" 2>&1 | tee -a "$OUT/bench.jsonl"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
}

run_peers() {  # $1: "" (eager) or --compile
  echo "== hf_generate_baseline.py $1"
  local left=$((BUDGET > SECONDS ? BUDGET - SECONDS : 1))
  timeout "$left" python3 "$RBENCH_SHARED/peers/hf_generate_baseline.py" --shapes "$SHAPES" --batches "$BATCHES" \
      --prompt "$PROMPT" --gen "$GEN" $1 2>>"$OUT/peers.err" | tee -a "$OUT/peers.jsonl"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; tail -20 "$OUT/peers.err"; }
}

# A change against a baseline build on the same machine, interleaved so drift hits both alike: the
# baseline's rbench in .device/base (BASE), ROUNDS (2) rounds of every shape and batch, JSON lines
# tagged "build" to ab.jsonl. Compare the decode tok/s of the two builds, never across machines.
run_ab() {
  local base=${BASE:-.device/base}
  [ -x "$base/rbench" ] || { echo "ab: no baseline build at $base/rbench" >&2; status=1; return; }
  for round in $(seq "${ROUNDS:-2}"); do
    for shape in ${SHAPES//,/ }; do
      for build in "$base" "$BIN"; do
        echo "== round $round: $build/rbench bench --shape $shape --batch $BATCHES"
        bench_shape "$build" "$shape" 2>>"$OUT/ab.err" | sed -n "s|^{|{\"build\": \"$build\", |p" | tee -a "$OUT/ab.jsonl"
        [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; tail -5 "$OUT/ab.err"; }
      done
    done
  done
  python3 - "$OUT/ab.jsonl" "$base" "$BIN" <<'PY'
import json, statistics, sys
path, base, change = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
for key in sorted({(r["model"], r["batch"]) for r in rows}):
    tok_s = {b: [r["decode_tok_s"] for r in rows if (r["model"], r["batch"]) == key and r["build"] == b] for b in (base, change)}
    if all(tok_s.values()):
        m = {b: statistics.median(v) for b, v in tok_s.items()}
        print(f"ab {key[0]} batch {key[1]}: {base} {m[base]:.1f}, {change} {m[change]:.1f} decode tok/s (medians), "
              f"ratio {m[change] / m[base]:.3f}")
PY
}

# Per-kernel GPU time of one decode step (ncu serialises kernels: durations, not the step's wall time).
run_ncu() {
  local ncu
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  [ -n "$ncu" ] || { echo "ncu not found"; status=1; return; }
  for shape in ${SHAPES//,/ }; do
    for batch in ${BATCHES//,/ }; do
      local csv="$OUT/ncu_${shape}_b${batch}.csv"
      timeout 150 "$ncu" --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file "$csv" \
          "$BIN/rbench" bench --shape "$shape" --batch "$batch" --prompt "$PROMPT" --gen 3 --no-cuda-graphs >/dev/null
      python3 scripts/ncu_step.py "$csv" | head -40 | tee -a "$OUT/ncu.txt"
    done
  done
}

run_suite() {
  echo "== rbench run --model engine:models/arith-moe --suite arith --device cuda"
  # A fresh store: a second call on a warm machine would otherwise find the run finished and decode nothing.
  rm -f /tmp/rbench-gpu.db /tmp/rbench-gpu.db-wal /tmp/rbench-gpu.db-shm
  "$BIN/rbench" run --model engine:models/arith-moe --suite arith --device cuda --samples 4 --concurrency 64 \
      --db /tmp/rbench-gpu.db --progress-interval 5 2>&1 | tail -15 | tee "$OUT/run.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  "$BIN/rbench" report --db /tmp/rbench-gpu.db 2>&1 | tee -a "$OUT/run.log"
}

# One row per (model, batch): the engine beside each peer, with the rooflines.
summarize() {
  python3 - "$OUT" <<'EOF'
import json, sys, os
out = sys.argv[1]
def lines(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return []
    return [json.loads(l) for l in open(path) if l.startswith("{")]
ours, peers = lines("bench.jsonl"), lines("peers.jsonl")
print(f"{'model':15} {'batch':>5} {'rbench gen tok/s':>17} {'decode tok/s':>13} {'HF eager':>9} {'HF compile':>10} "
      f"{'b1 roofline':>11} {'% roofline':>10} {'bound@batch':>11} {'% bound':>8}")
for r in ours:
    def peer(kind):
        for p in peers:
            if p["shape"] == r["model"] and p["batch"] == r["batch"] and kind in p["peer"]: return p["decode_tok_s"]
        return float("nan")
    print(f"{r['model']:15} {r['batch']:5d} {r['generate_tok_s']:17.1f} {r['decode_tok_s']:13.1f} {peer('eager'):9.1f} "
          f"{peer('compile'):10.1f} {r['batch1_roofline_tok_s']:11.1f} {100*r['decode_tok_s']/r['batch1_roofline_tok_s']:9.1f}% "
          f"{r['weight_streaming_bound_tok_s']:11.1f} {100*r['decode_tok_s']/r['weight_streaming_bound_tok_s']:7.1f}%")
EOF
}

BUDGET=${BUDGET:-86400}
for step in "$@"; do
  if [ "$SECONDS" -ge "$BUDGET" ]; then
    echo "== $step skipped: the budget of $BUDGET s is spent"
    status=1
    continue
  fi
  case "$step" in
    tests) run_tests ;;
    bench) run_bench ;;
    peers-eager) run_peers "" ;;
    peers-compile) run_peers --compile ;;
    run) run_suite ;;
    ncu) run_ncu ;;
    ab) run_ab ;;
    *) echo "unknown step $step (tests | bench | peers-eager | peers-compile | run | ncu | ab)" >&2; exit 2 ;;
  esac
done
summarize
exit $status
