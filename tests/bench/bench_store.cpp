// Throughput of the SQLite store, with samples the size a reasoning model writes them: samples
// committed per second (each in its own transaction, as a run commits them) and samples read back
// per second (as a report or a resume reads a run).
//
// The database lives under $RBENCH_BENCH_DIR if set, else the system temp directory: point it at the
// disk the real results file will use, since commits and checkpoints cost what that disk costs.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "harness/store/store.h"

namespace {

namespace fs = std::filesystem;
using rbench::SampleRecord;
using rbench::Store;

constexpr std::size_t prompt_bytes = 500;
constexpr std::size_t default_reasoning_bytes = 8 * 1024;
constexpr std::size_t answer_bytes = 300;
constexpr int samples_per_problem = 8;

// A fresh directory, removed with its contents at the end.
class BenchDirectory {
 public:
  BenchDirectory() {
    const char* root = std::getenv("RBENCH_BENCH_DIR");
    std::string pattern = ((root && *root) ? fs::path(root) : fs::temp_directory_path()) / "rbench-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create " + pattern);
    path_ = pattern;
  }
  ~BenchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  BenchDirectory(const BenchDirectory&) = delete;
  BenchDirectory& operator=(const BenchDirectory&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Text of exactly `size` bytes; the content does not matter to SQLite, which does not compress.
std::string text_of_size(std::size_t size, std::string_view seed) {
  std::string text;
  text.reserve(size + seed.size());
  while (text.size() < size) text += seed;
  text.resize(size);
  return text;
}

SampleRecord realistic_sample(const std::string& run_id, std::size_t reasoning_bytes) {
  SampleRecord sample;
  sample.run_id = run_id;
  sample.prompt = text_of_size(prompt_bytes, R"([{"role":"user","content":"Let $x$ be a real number such that )");
  sample.reasoning = text_of_size(reasoning_bytes, "Okay, so I need to find x. Let me check the case x > 0 first. ");
  sample.answer = text_of_size(answer_bytes, "Therefore the answer is \\boxed{113}. ");
  sample.extracted = "113";
  sample.verdict = "correct";
  sample.score = 1.0;
  sample.finish_reason = "stop";
  sample.input_tokens = 140;
  sample.output_tokens = 2300;
  sample.reasoning_tokens = 2200;
  sample.latency_s = 41.7;
  sample.cost_usd = 0.005;
  return sample;
}

// A store with one model, one suite and run "bench-run", ready for samples.
std::unique_ptr<Store> open_seeded_store(const fs::path& path) {
  auto store = Store::open(path);
  rbench::ModelRecord model;
  model.name = "bench-model";
  model.backend = "openai";
  rbench::SuiteRecord suite;
  suite.name = "bench-suite";
  suite.data_hash = "sha256:bench";
  rbench::RunRecord run;
  run.run_id = "bench-run";
  run.generation_config = {{"temperature", 0.6}};
  store->begin_run(run, store->put_model(model), store->put_suite(suite));
  return store;
}

void set_sample_key(SampleRecord& sample, int64_t ordinal) {
  sample.problem_id = "problem-" + std::to_string(ordinal / samples_per_problem);
  sample.sample_index = static_cast<int>(ordinal % samples_per_problem);
}

std::size_t sample_bytes(const SampleRecord& sample) {
  return sample.prompt.size() + sample.reasoning.size() + sample.answer.size();
}

// Each iteration commits one new sample in its own transaction, as a run does.
void BM_WriteSample(benchmark::State& state) {
  BenchDirectory directory;
  auto store = open_seeded_store(directory / "bench.db");
  SampleRecord sample = realistic_sample("bench-run", static_cast<std::size_t>(state.range(0)));
  int64_t ordinal = 0;
  for (auto _ : state) {
    set_sample_key(sample, ordinal++);
    if (!store->write_sample(sample)) state.SkipWithError("a new sample was not written");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sample_bytes(sample)));
}
BENCHMARK(BM_WriteSample)->Arg(default_reasoning_bytes)->Arg(64 * 1024)->ArgName("reasoning_bytes")->UseRealTime();

// Writing a sample that is already stored: what a resumed run costs per skipped write.
void BM_WriteSampleAlreadyStored(benchmark::State& state) {
  BenchDirectory directory;
  auto store = open_seeded_store(directory / "bench.db");
  SampleRecord sample = realistic_sample("bench-run", default_reasoning_bytes);
  set_sample_key(sample, 0);
  store->write_sample(sample);
  for (auto _ : state) {
    if (store->write_sample(sample)) state.SkipWithError("a stored sample was written again");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteSampleAlreadyStored)->UseRealTime();

// A store holding `sample_count` samples of one run.
std::unique_ptr<Store> open_store_with_samples(const fs::path& path, int64_t sample_count) {
  auto store = open_seeded_store(path);
  SampleRecord sample = realistic_sample("bench-run", default_reasoning_bytes);
  for (int64_t ordinal = 0; ordinal < sample_count; ++ordinal) {
    set_sample_key(sample, ordinal);
    store->write_sample(sample);
  }
  return store;
}

// Reading every sample of a run back, as a report does; items are samples.
void BM_ReadRunSamples(benchmark::State& state) {
  BenchDirectory directory;
  const int64_t sample_count = state.range(0);
  auto store = open_store_with_samples(directory / "bench.db", sample_count);
  for (auto _ : state) {
    auto samples = store->samples("bench-run");
    if (static_cast<int64_t>(samples.size()) != sample_count) state.SkipWithError("wrong sample count");
    benchmark::DoNotOptimize(samples.data());
  }
  state.SetItemsProcessed(state.iterations() * sample_count);
  state.SetBytesProcessed(state.iterations() * sample_count *
                          static_cast<int64_t>(sample_bytes(realistic_sample("", default_reasoning_bytes))));
}
BENCHMARK(BM_ReadRunSamples)->Arg(1000)->Arg(10000)->ArgName("samples")->UseRealTime();

// Listing the finished samples of a run, as a resume does before it starts; items are samples.
void BM_FinishedSamples(benchmark::State& state) {
  BenchDirectory directory;
  const int64_t sample_count = state.range(0);
  auto store = open_store_with_samples(directory / "bench.db", sample_count);
  for (auto _ : state) {
    auto finished = store->finished_samples("bench-run");
    if (static_cast<int64_t>(finished.size()) != sample_count) state.SkipWithError("wrong sample count");
    benchmark::DoNotOptimize(finished.data());
  }
  state.SetItemsProcessed(state.iterations() * sample_count);
}
BENCHMARK(BM_FinishedSamples)->Arg(10000)->ArgName("samples")->UseRealTime();

}  // namespace
