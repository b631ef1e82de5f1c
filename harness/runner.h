#pragma once
// The run loop: suite -> prompt -> backend -> scorer -> store, resumable and crash-safe.
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "harness/backends/backend.h"
#include "harness/pricing.h"
#include "harness/progress.h"
#include "harness/store/store.h"
#include "scorers/scorer.h"
#include "suites/suite.h"

namespace rbench {

struct RunOptions {
  int samples = 1;       // k samples per problem
  int limit = 0;         // first N problems (0 = all)
  int concurrency = 8;   // requests in flight
  SamplingParams sampling;
  uint64_t seed = 0;
  std::vector<std::string> tags;
  int max_consecutive_errors = 10;             // the backend is taken as down after this many failures in a row
  std::optional<double> dollars_per_gpu_hour;  // prices self-hosted samples that report GPU time
};

struct RunOutcome {
  std::string run_id;
  std::string status;     // "finished" | "incomplete" | "failed" | "interrupted"
  int total = 0;          // samples the run asks for
  int resumed = 0;        // already stored before this invocation
  int completed = 0;      // stored by this invocation without error
  int failed = 0;         // stored by this invocation with an error (redone on the next invocation)
  std::string last_error;
};

// Identity of a run: everything that changes its answers (model and weights, suite data, prompt template,
// generation config, seed). Not k or limit: asking for more samples or problems extends the same run.
std::string run_identity(const ModelIdentity& model, const Suite& suite, const SamplingParams& sampling,
                         uint64_t seed);

// The seed a backend gets for one sample, derived from the run seed, the problem and the sample index.
uint64_t sample_seed(uint64_t run_seed, const std::string& problem_id, int sample_index);

// Runs (or resumes) the evaluation. Each finished sample is committed at once. Setting `stop` makes it
// abandon in-flight requests and return "interrupted"; everything committed stays.
// The loop sets `stop` itself when the backend looks down (max_consecutive_errors) and returns "failed".
RunOutcome run_evaluation(const RunOptions& options, Backend& backend, const Suite& suite, const Scorer& scorer,
                          Store& store, const PriceTable& prices, const ProgressOptions& progress_options,
                          std::atomic<bool>& stop);

std::string engine_version();  // "rbench VERSION (REVISION)"

}  // namespace rbench
