#pragma once
// The SQLite store: models, suites and their problems, runs and samples.
// WAL mode, a versioned schema migrated on open, each sample committed on its own.
// Reports read only this.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbench {

struct ModelRecord {
  std::string name;
  std::string backend;
  std::string location;      // endpoint or path
  std::string weights_hash;
  // $ per million tokens, from the dated price table; nullopt when unknown
  std::optional<double> price_input;
  std::optional<double> price_cached_input;
  std::optional<double> price_output;
  std::string price_date;    // the date of the price table entry
};

struct ProblemRecord {
  std::string problem_id;
  std::string gold;
  nlohmann::json metadata;
};

struct SuiteRecord {
  std::string name;
  std::string data_hash;
  std::vector<ProblemRecord> problems;  // the problem set this hash stands for
};

struct RunRecord {
  std::string run_id;          // hash of everything that changes the answers
  std::string model_name;      // filled from the models table when read back
  std::string backend;
  std::string suite_name;
  std::string suite_hash;
  std::string prompt_template;
  nlohmann::json generation_config;  // temperature, top_p, max_tokens, ...
  uint64_t seed = 0;
  int k = 1;                   // samples per problem (the largest asked for so far)
  int problem_count = 0;       // problems this run covers (the largest --limit asked for so far)
  std::string engine_version;  // rbench version + git revision that ran it
  std::string host;
  std::string started_at;      // ISO 8601 UTC
  std::string finished_at;     // "" while running
  std::string status;          // "running" | "finished" | "incomplete" | "failed" | "interrupted"
  std::vector<std::string> tags;
};

struct SampleRecord {
  std::string run_id;
  std::string problem_id;
  int sample_index = 0;
  std::string prompt;          // rendered prompt (JSON of the chat messages + prefill)
  std::string reasoning;
  std::string answer;          // final answer text
  std::string extracted;       // answer the scorer extracted
  std::string verdict;         // "correct" | "incorrect" | "no_answer" | "error"
  double score = 0.0;
  std::string finish_reason;
  int64_t input_tokens = 0;
  int64_t cached_input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t reasoning_tokens = 0;
  double latency_s = 0.0;
  std::optional<double> gpu_seconds;
  std::optional<double> cost_usd;
  std::string error;           // non-empty: the sample failed and will be redone on resume
  std::string created_at;      // set by the store
  std::string grading = "{}";  // JSON object: the scorer's details (a code sample's first failing test, ...)
};

// A sample as reports scan it: no prompt, and views into the row being read, valid only during the visit.
struct SampleView {
  std::string_view problem_id;
  int sample_index = 0;
  std::string_view verdict;
  double score = 0.0;
  std::string_view extracted;
  std::string_view finish_reason;
  int64_t output_tokens = 0;
  int64_t reasoning_tokens = 0;
  std::optional<double> gpu_seconds;
  std::optional<double> cost_usd;
  std::string_view error;
  std::string_view reasoning;
  std::string_view answer;
};

// Whether a scan reads the reasoning and answer texts; skipping them never touches their overflow pages.
enum class SampleTexts { read, skip };

// One problem of a run, over its samples stored without error.
struct ItemScore {
  std::string problem_id;
  int samples = 0;
  double score_sum = 0.0;
  int correct = 0;  // samples with verdict "correct"
};

enum class StoreMode { read_write, read_only };

class Store {
 public:
  // Opens (creating if needed, in read_write mode) and migrates the schema.
  // Throws UserError naming the file when it cannot be opened, is not a database,
  // is read-only when writing is needed, is locked by another writer, or is newer than this build.
  // A write waits up to 5 s for another writer's lock (RBENCH_DB_BUSY_TIMEOUT_MS overrides it).
  // read_only never migrates: it needs a file at exactly the current schema version.
  static std::unique_ptr<Store> open(const std::filesystem::path& path, StoreMode mode = StoreMode::read_write);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static int current_schema_version();
  int schema_version() const;
  const std::filesystem::path& path() const;

  // Inserts or updates (prices) a model; returns its row id. Identity: backend + name + location + weights_hash.
  int64_t put_model(const ModelRecord& model);
  // Inserts a suite version and its problems once; returns its row id. Identity: name + data_hash.
  int64_t put_suite(const SuiteRecord& suite);

  // Creates the run, or reopens an existing one with the same id: status back to "running",
  // k and problem_count raised to the new values, tags added. model_id and suite_id from put_*.
  void begin_run(const RunRecord& run, int64_t model_id, int64_t suite_id);
  void finish_run(const std::string& run_id, const std::string& status);

  // Commits one sample in its own transaction. A sample already stored with an error is replaced;
  // a sample already stored without error is kept (returns false) so a sample is never duplicated.
  bool write_sample(const SampleRecord& sample);
  // The same for many samples in one transaction (bulk imports, benchmarks); returns how many were written.
  int write_samples(const std::vector<SampleRecord>& samples);

  // (problem_id, sample_index) of samples stored without error: what a resumed run skips.
  std::vector<std::pair<std::string, int>> finished_samples(const std::string& run_id) const;

  std::optional<RunRecord> run(const std::string& run_id) const;
  // Runs, newest first; filtered by tag when `tag` is non-empty.
  std::vector<RunRecord> runs(const std::string& tag = "") const;
  // Samples of a run ordered by problem_id, sample_index.
  std::vector<SampleRecord> samples(const std::string& run_id) const;
  // Visits the samples of a run in problem_id, sample_index order without copying their texts
  // (with SampleTexts::skip, reasoning and answer are empty).
  void for_each_sample(const std::string& run_id, const std::function<void(const SampleView&)>& visit,
                       SampleTexts texts = SampleTexts::read) const;
  // Stored samples of a run, failed ones included (reads the primary key only).
  int64_t sample_count(const std::string& run_id) const;
  // Per-problem sample count, score sum and correct count of a run (errors excluded), by problem_id.
  std::vector<ItemScore> item_scores(const std::string& run_id) const;
  // Output tokens of each sample of a run stored without error (length histograms; reads no text).
  std::vector<int64_t> output_token_counts(const std::string& run_id) const;
  std::optional<ModelRecord> model_of_run(const std::string& run_id) const;
  std::vector<ProblemRecord> problems(const std::string& suite_name, const std::string& data_hash) const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rbench
