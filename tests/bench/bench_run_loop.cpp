// Overhead of the run loop per sample: prompt rendering, grading, pricing, progress and the committed
// store write, with a backend that answers at once. Compare with bench_store's bare write rate.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "harness/runner.h"
#include "suites/arith.h"

namespace rbench {
namespace {

// Answers every request at once with a boxed number and a few KB of reasoning, like a short real sample.
class InstantBackend final : public Backend {
 public:
  ModelIdentity identity() const override { return {"instant", "bench", "memory", "0"}; }
  GenerationResult generate(const GenerationRequest& request) override {
    GenerationResult result;
    result.reasoning = std::string(4096, 'r');
    result.answer = "The answer is \\boxed{" + std::to_string(request.sample_index) + "}.";
    result.finish_reason = "stop";
    result.usage = {120, 0, 1100, 1000};
    return result;
  }
};

void BM_RunLoopPerSample(benchmark::State& state) {
  const int problems = 200;
  const int concurrency = static_cast<int>(state.range(0));
  const auto suite = make_arith_suite(kArithDefaultSeed, problems);
  const auto scorer = make_scorer("math");
  const PriceTable prices = PriceTable::builtin();
  InstantBackend backend;
  ProgressOptions progress;
  progress.interval_s = 3600;
  progress.out = std::fopen("/dev/null", "w");
  const auto db = std::filesystem::temp_directory_path() / ("rbench-bench-" + std::to_string(std::random_device{}()));
  int64_t samples = 0;
  uint64_t seed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove(db);
    const auto store = Store::open(db);
    RunOptions options;
    options.samples = 2;
    options.concurrency = concurrency;
    options.seed = ++seed;
    std::atomic<bool> stop{false};
    state.ResumeTiming();
    const RunOutcome outcome = run_evaluation(options, backend, *suite, *scorer, *store, prices, progress, stop);
    samples += outcome.completed;
  }
  std::fclose(progress.out);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
  state.SetItemsProcessed(samples);
  // kIsRate | kInvert: seconds per sample (printed with an SI prefix, e.g. 95u = 95 microseconds).
  state.counters["seconds_per_sample"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RunLoopPerSample)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rbench
