// Report generation on a store of 1,000,000 samples: 5 models x 2 suites of 1,000 problems x k = 100.
// Measures the leaderboard (every run's rows: avg@k with its interval, cons@k, pass@k, costs and the trace
// metrics, which read every reasoning text), its rendering, a paired comparison of two 100k-sample runs, a
// comparison of two models over both suites (Holm) and the gate. Building the store is not measured; its time
// is printed once.
//
// Each sample's reasoning is RBENCH_BENCH_REASONING_BYTES long (default 1024; real R1 traces run 10-30 KB,
// which would make a 10-30 GB file here): the trace scan grows with it, the rest does not. The store lives in
// a temporary directory under $RBENCH_BENCH_DIR (or the system temp directory) and is removed at the end,
// unless RBENCH_BENCH_STORE names a file to build once and reuse.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "harness/store/store.h"
#include "reports/compare.h"
#include "reports/gate.h"
#include "reports/leaderboard.h"

namespace {

namespace fs = std::filesystem;
using namespace rbench;

constexpr int kModels = 5;
constexpr int kProblems = 1000;
constexpr int kSamplesPerProblem = 100;
constexpr const char* kSuites[] = {"algebra-bench", "geometry-bench"};
constexpr const char* kSubjects[] = {"algebra", "counting", "geometry", "number theory", "precalculus",
                                     "probability", "calculus"};

size_t reasoning_bytes() {
  const char* text = std::getenv("RBENCH_BENCH_REASONING_BYTES");
  return text && *text ? std::stoul(text) : 1024;
}

std::string run_id(int model, int suite) { return fmt::format("run-m{}-s{}", model, suite); }

// A reasoning trace of about `size` bytes: arithmetic steps, a reflection now and then, and for the last
// model a few Chinese words (language mixing).
std::string reasoning_text(std::mt19937_64& rng, size_t size, int model) {
  std::string text;
  text.reserve(size + 64);
  while (text.size() < size) {
    const uint64_t r = rng();
    const int a = static_cast<int>(r % 1000), b = static_cast<int>((r >> 10) % 1000);
    switch ((r >> 20) % 8) {
      case 0:
        text += "Wait, let me double-check that step. ";
        break;
      case 1:
        text += model == kModels - 1 ? "首先我们计算这个和。" : "Alternatively, we could count the complement. ";
        break;
      default:
        text += fmt::format("Adding {} and {} gives {}, so the running total is {}. ", a, b, a + b, 2 * (a + b));
    }
  }
  return text;
}

void add_run(Store& store, int model, int suite, int64_t suite_id, size_t reasoning_size) {
  const std::string name = fmt::format("model-{}", model);
  const int64_t model_id = store.put_model({name, "openai", "https://api.example", "", 0.55, 0.14, 2.19, "2025-01-20"});
  RunRecord run;
  run.run_id = run_id(model, suite);
  run.k = kSamplesPerProblem;
  run.problem_count = kProblems;
  run.prompt_template = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}.";
  run.tags = {fmt::format("release-{}", model)};
  store.begin_run(run, model_id, suite_id);
  std::mt19937_64 rng(1000 * model + suite);
  std::vector<SampleRecord> batch;
  const double accuracy = 0.45 + 0.1 * model;
  for (int problem = 0; problem < kProblems; ++problem) {
    const double difficulty = static_cast<double>((problem * 7919) % kProblems) / kProblems - 0.5;
    for (int index = 0; index < kSamplesPerProblem; ++index) {
      SampleRecord sample;
      sample.run_id = run.run_id;
      sample.problem_id = fmt::format("{}-{:04d}", kSuites[suite], problem);
      sample.sample_index = index;
      const bool correct = std::uniform_real_distribution<double>(0, 1)(rng) < accuracy - 0.4 * difficulty;
      const bool truncated = rng() % 50 == 0;
      sample.extracted = truncated ? "" : correct ? std::to_string(problem) : std::to_string(rng() % 7);
      sample.verdict = truncated ? "no_answer" : correct ? "correct" : "incorrect";
      sample.score = correct && !truncated ? 1.0 : 0.0;
      sample.finish_reason = truncated ? "length" : "stop";
      sample.prompt = fmt::format(R"([{{"role":"user","content":"Problem {} of {}: find the value of the expression )"
                                  R"(described here. Please reason step by step, and put your final answer within )"
                                  R"(\\boxed{{}}."}}])",
                                  problem, kSuites[suite]);
      sample.reasoning = reasoning_text(rng, reasoning_size, model);
      sample.answer = truncated ? "" : "The answer is $\\boxed{" + sample.extracted + "}$.";
      sample.input_tokens = 120;
      sample.output_tokens = 400 + static_cast<int64_t>(rng() % 600);
      sample.reasoning_tokens = sample.output_tokens - 30;
      sample.latency_s = 12.5;
      sample.cost_usd = 2.19e-6 * sample.output_tokens + 0.55e-6 * sample.input_tokens;
      batch.push_back(std::move(sample));
    }
    if (batch.size() >= 20000) {
      store.write_samples(batch);
      batch.clear();
    }
  }
  store.write_samples(batch);
  store.finish_run(run.run_id, "finished");
}

void build_store(const fs::path& path) {
  const auto start = std::chrono::steady_clock::now();
  auto store = Store::open(path);  // closed (and checkpointed) before the file's size is read
  const size_t size = reasoning_bytes();
  for (int suite = 0; suite < 2; ++suite) {
    SuiteRecord record{kSuites[suite], fmt::format("hash-{}", suite), {}};
    for (int problem = 0; problem < kProblems; ++problem) {
      const std::string subject = kSubjects[problem % std::size(kSubjects)];
      record.problems.push_back({fmt::format("{}-{:04d}", kSuites[suite], problem), std::to_string(problem),
                                 {{"subject", subject}, {"cluster", subject}, {"level", problem % 5 + 1}}});
    }
    const int64_t suite_id = store->put_suite(record);
    for (int model = 0; model < kModels; ++model) add_run(*store, model, suite, suite_id, size);
  }
  store.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "built %s: %d samples, reasoning %zu bytes each, %.1f s, %.2f GB\n", path.c_str(),
               2 * kModels * kProblems * kSamplesPerProblem, size, seconds, fs::file_size(path) / 1e9);
}

// The store every benchmark reads, built on first use.
class BenchStore {
 public:
  BenchStore() {
    const char* reuse = std::getenv("RBENCH_BENCH_STORE");
    if (reuse && *reuse) {
      path_ = reuse;
    } else {
      const char* root = std::getenv("RBENCH_BENCH_DIR");
      std::string pattern = ((root && *root) ? fs::path(root) : fs::temp_directory_path()) / "rbench-reports-XXXXXX";
      if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create " + pattern);
      directory_ = pattern;
      path_ = directory_ / "reports.db";
    }
    if (!fs::exists(path_)) build_store(path_);
    store_ = Store::open(path_, StoreMode::read_only);
  }
  ~BenchStore() {
    store_.reset();
    std::error_code ignored;
    if (!directory_.empty()) fs::remove_all(directory_, ignored);
  }
  const Store& store() const { return *store_; }

 private:
  fs::path directory_, path_;
  std::unique_ptr<Store> store_;
};

const Store& bench_store() {
  static BenchStore store;
  return store.store();
}

void BM_LeaderboardRows(benchmark::State& state) {
  const Store& store = bench_store();
  int64_t samples = 0;
  for (auto _ : state) {
    const auto rows = leaderboard_rows(store);
    samples = 0;
    for (const auto& row : rows) samples += row.samples + row.errors;
    benchmark::DoNotOptimize(rows.data());
  }
  state.counters["samples"] = static_cast<double>(samples);
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(samples) * state.iterations(),
                                                       benchmark::Counter::kIsRate);
  state.counters["reasoning_bytes_per_s"] = benchmark::Counter(
      static_cast<double>(samples) * reasoning_bytes() * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LeaderboardRows)->Unit(benchmark::kSecond)->Iterations(2);

// What the table and Markdown leaderboards compute: everything but the trace metrics, no texts read.
void BM_LeaderboardRowsWithoutTraces(benchmark::State& state) {
  const Store& store = bench_store();
  LeaderboardOptions options;
  options.trace_metrics = false;
  for (auto _ : state) benchmark::DoNotOptimize(leaderboard_rows(store, options));
}
BENCHMARK(BM_LeaderboardRowsWithoutTraces)->Unit(benchmark::kSecond)->Iterations(2);

// The floor under the leaderboard: reading every sample's columns, texts included, and nothing else.
void BM_ScanSamples(benchmark::State& state) {
  const Store& store = bench_store();
  for (auto _ : state) {
    int64_t bytes = 0;
    for (const auto& run : store.runs()) {
      store.for_each_sample(run.run_id, [&](const SampleView& sample) { bytes += sample.reasoning.size(); });
    }
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_ScanSamples)->Unit(benchmark::kSecond)->Iterations(2);

void BM_RenderLeaderboard(benchmark::State& state) {
  const auto rows = leaderboard_rows(bench_store());
  for (auto _ : state) {
    for (const ReportFormat format : {ReportFormat::table, ReportFormat::markdown, ReportFormat::csv,
                                      ReportFormat::json}) {
      benchmark::DoNotOptimize(render_leaderboard(rows, format));
    }
    benchmark::DoNotOptimize(render_trace_report(rows, ReportFormat::table));
  }
}
BENCHMARK(BM_RenderLeaderboard)->Unit(benchmark::kMicrosecond);

void BM_CompareTwoRuns(benchmark::State& state) {
  const Store& store = bench_store();
  for (auto _ : state) benchmark::DoNotOptimize(compare_runs(store, run_id(0, 0), run_id(4, 0)));
}
BENCHMARK(BM_CompareTwoRuns)->Unit(benchmark::kMillisecond);

void BM_CompareModelsAcrossSuites(benchmark::State& state) {
  const Store& store = bench_store();
  for (auto _ : state) {
    benchmark::DoNotOptimize(render_comparisons(compare_selections(store, "release-0", "release-4")));
  }
}
BENCHMARK(BM_CompareModelsAcrossSuites)->Unit(benchmark::kMillisecond);

void BM_Gate(benchmark::State& state) {
  const Store& store = bench_store();
  GateOptions options;
  options.margin = 0.02;
  for (auto _ : state) {
    benchmark::DoNotOptimize(render_gate_markdown(run_gate(store, "release-3", "release-4", options)));
  }
}
BENCHMARK(BM_Gate)->Unit(benchmark::kMillisecond);

}  // namespace
