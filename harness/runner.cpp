#include "harness/runner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <exception>
#include <mutex>
#include <map>
#include <thread>

#include "common/hash.h"
#include "rbench_version.h"

namespace rbench {

namespace {

struct WorkItem {
  const Problem* problem;
  int sample_index;
};

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

nlohmann::json generation_config(const SamplingParams& sampling) {
  return {{"temperature", sampling.temperature}, {"top_p", sampling.top_p}, {"max_tokens", sampling.max_tokens}};
}

std::string prompt_json(const Prompt& prompt) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& message : prompt.messages) messages.push_back({{"role", message.role}, {"content", message.content}});
  return nlohmann::json{{"messages", messages}, {"assistant_prefill", prompt.assistant_prefill},
                        {"gold", prompt.gold}, {"details", prompt.details}}
      .dump();
}

// Shared state of one invocation's workers.
class RunState {
 public:
  RunState(const RunOptions& options, Backend& backend, const Suite& suite, const Scorer& scorer, Store& store,
           std::optional<Price> price, Progress& progress, std::atomic<bool>& stop, std::string run_id)
      : options_(options), backend_(backend), suite_(suite), scorer_(scorer), store_(store), price_(price),
        progress_(progress), stop_(stop), run_id_(std::move(run_id)) {}

  // An exception must not escape a worker thread (that would terminate the process): the first one
  // stops the run and is rethrown by the caller once every worker has finished.
  void work(const std::vector<WorkItem>& items, std::atomic<size_t>& next) {
    while (!stop_) {
      const size_t index = next++;
      if (index >= items.size()) return;
      try {
        process(items[index]);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!fatal_) fatal_ = std::current_exception();
        stop_ = true;
      }
    }
  }

  std::exception_ptr fatal() const {
    std::lock_guard lock(mutex_);
    return fatal_;
  }

  int completed() const { return completed_; }
  int failed() const { return failed_; }
  bool aborted() const { return aborted_; }
  std::string last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void process(const WorkItem& item) {
    const Prompt prompt = suite_.render(*item.problem, item.sample_index);
    GenerationRequest request;
    request.problem_id = item.problem->id;
    request.sample_index = item.sample_index;
    request.messages = prompt.messages;
    request.assistant_prefill = prompt.assistant_prefill;
    request.sampling = options_.sampling;
    request.sampling.seed = sample_seed(options_.seed, item.problem->id, item.sample_index);
    request.cancelled = &stop_;

    const GenerationResult result = backend_.generate(request);
    if (result.finish_reason == "cancelled") return;  // abandoned, not failed: redone on resume

    SampleRecord sample = to_record(item, prompt, result);
    store_.write_sample(sample);
    const bool failed = !result.error.empty();
    progress_.record(sample.verdict == "correct", failed, result.usage.output, sample.cost_usd.value_or(0.0));
    failed ? note_failure(result.error) : note_success();
  }

  SampleRecord to_record(const WorkItem& item, const Prompt& prompt, const GenerationResult& result) const {
    SampleRecord sample;
    sample.run_id = run_id_;
    sample.problem_id = item.problem->id;
    sample.sample_index = item.sample_index;
    sample.prompt = prompt_json(prompt);
    sample.reasoning = result.reasoning;
    sample.answer = result.answer;
    sample.finish_reason = result.finish_reason;
    sample.input_tokens = result.usage.input;
    sample.cached_input_tokens = result.usage.cached_input;
    sample.output_tokens = result.usage.output;
    sample.reasoning_tokens = result.usage.reasoning;
    sample.latency_s = result.latency_s;
    sample.gpu_seconds = result.gpu_seconds;
    sample.error = result.error;
    if (!result.error.empty()) {
      sample.verdict = "error";
      return sample;
    }
    const Verdict verdict = scorer_.grade(Submission{prompt.gold, result.answer, item.problem->metadata});
    sample.grading = verdict.details.dump();
    sample.extracted = verdict.extracted;
    sample.verdict = verdict.verdict;
    sample.score = verdict.score;
    if (price_) {
      sample.cost_usd = cost_usd(*price_, result.usage);
    } else if (result.gpu_seconds && options_.dollars_per_gpu_hour) {
      sample.cost_usd = gpu_cost_usd(*result.gpu_seconds, *options_.dollars_per_gpu_hour);
    }
    return sample;
  }

  void note_success() {
    consecutive_failures_ = 0;
    ++completed_;
  }

  void note_failure(const std::string& error) {
    ++failed_;
    {
      std::lock_guard lock(mutex_);
      last_error_ = error;
    }
    if (++consecutive_failures_ >= options_.max_consecutive_errors) {
      aborted_ = true;
      stop_ = true;
    }
  }

  const RunOptions& options_;
  Backend& backend_;
  const Suite& suite_;
  const Scorer& scorer_;
  Store& store_;
  const std::optional<Price> price_;
  Progress& progress_;
  std::atomic<bool>& stop_;
  const std::string run_id_;
  std::atomic<int> completed_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> consecutive_failures_{0};
  std::atomic<bool> aborted_{false};
  mutable std::mutex mutex_;
  std::string last_error_;
  std::exception_ptr fatal_;
};

std::string status_of(const RunState& state, const std::atomic<bool>& stop, int total, int stored) {
  if (state.aborted()) return "failed";
  if (stop) return "interrupted";
  return stored >= total ? "finished" : "incomplete";
}

}  // namespace

std::string engine_version() { return fmt::format("rbench {} ({})", RBENCH_VERSION, RBENCH_GIT_REVISION); }

std::string run_identity(const ModelIdentity& model, const Suite& suite, const SamplingParams& sampling,
                         uint64_t seed) {
  Sha256 hash;
  hash.field("rbench-run-v1").field(model.backend).field(model.name).field(model.weights_hash);
  // Without a weights hash, where the model is served is part of what it is.
  if (model.weights_hash.empty()) hash.field(model.location);
  hash.field(suite.name()).field(suite.data_hash()).field(suite.prompt_template());
  hash.field(generation_config(sampling).dump()).field(std::to_string(seed));
  return hash.hex().substr(0, 16);
}

uint64_t sample_seed(uint64_t run_seed, const std::string& problem_id, int sample_index) {
  const std::string digest =
      Sha256().field(std::to_string(run_seed)).field(problem_id).field(std::to_string(sample_index)).hex();
  // 31 bits: some APIs take the seed as a signed 32-bit integer.
  return std::stoull(digest.substr(0, 8), nullptr, 16) & 0x7fffffffULL;
}

RunOutcome run_evaluation(const RunOptions& options, Backend& backend, const Suite& suite, const Scorer& scorer,
                          Store& store, const PriceTable& prices, const ProgressOptions& progress_options,
                          std::atomic<bool>& stop) {
  const auto& all_problems = suite.problems();
  const size_t problem_count =
      options.limit > 0 ? std::min(all_problems.size(), static_cast<size_t>(options.limit)) : all_problems.size();
  // A problem the scorer could not grade (tests missing, no SWE-bench environment) stops the run here,
  // before anything is generated, paid for or written.
  for (size_t p = 0; p < problem_count; ++p) scorer.check_material(all_problems[p].metadata);

  const ModelIdentity model = backend.identity();
  const std::optional<Price> price = prices.find(model.name);

  ModelRecord model_record{model.name, model.backend, model.location, model.weights_hash, {}, {}, {}, ""};
  if (price) {
    model_record.price_input = price->input;
    model_record.price_cached_input = price->cached_input;
    model_record.price_output = price->output;
    model_record.price_date = price->date;
  }
  const int64_t model_id = store.put_model(model_record);

  SuiteRecord suite_record{suite.name(), suite.data_hash(), {}};
  for (const auto& problem : all_problems) suite_record.problems.push_back({problem.id, problem.gold, problem.metadata});
  const int64_t suite_id = store.put_suite(suite_record);

  RunOutcome outcome;
  outcome.run_id = run_identity(model, suite, options.sampling, options.seed);
  RunRecord run;
  run.run_id = outcome.run_id;
  run.prompt_template = suite.prompt_template();
  run.generation_config = generation_config(options.sampling);
  run.seed = options.seed;
  run.k = options.samples;
  run.problem_count = static_cast<int>(problem_count);
  run.engine_version = engine_version();
  run.host = host_name();
  run.tags = options.tags;
  store.begin_run(run, model_id, suite_id);

  // What this invocation asks for, minus what is stored already (sample -> was it correct).
  std::map<std::pair<std::string, int>, bool> stored;
  for (const auto& sample : store.samples(outcome.run_id)) {
    if (sample.error.empty()) stored[{sample.problem_id, sample.sample_index}] = sample.verdict == "correct";
  }
  std::vector<WorkItem> items;
  int resumed_correct = 0;
  for (size_t p = 0; p < problem_count; ++p) {
    for (int s = 0; s < options.samples; ++s) {
      const auto it = stored.find({all_problems[p].id, s});
      if (it == stored.end()) {
        items.push_back({&all_problems[p], s});
        continue;
      }
      ++outcome.resumed;
      resumed_correct += it->second ? 1 : 0;
    }
  }
  outcome.total = static_cast<int>(problem_count) * options.samples;

  Progress progress(fmt::format("{} on {}", model.name, suite.name()), outcome.total, progress_options);
  progress.resumed(outcome.resumed, resumed_correct);
  RunState state(options, backend, suite, scorer, store, price, progress, stop, outcome.run_id);
  {
    std::atomic<size_t> next{0};
    const int threads = std::max(1, std::min<int>(options.concurrency, static_cast<int>(items.size())));
    std::vector<std::jthread> workers;
    for (int i = 0; i < threads; ++i) workers.emplace_back([&] { state.work(items, next); });
  }
  progress.finish();
  if (const std::exception_ptr fatal = state.fatal()) {
    try {
      store.finish_run(outcome.run_id, "failed");
    } catch (const std::exception&) {
      // The store itself may be what failed; the original error is the one to report.
    }
    std::rethrow_exception(fatal);
  }

  outcome.completed = state.completed();
  outcome.failed = state.failed();
  outcome.last_error = state.last_error();
  outcome.status = status_of(state, stop, outcome.total, outcome.resumed + outcome.completed);
  store.finish_run(outcome.run_id, outcome.status);
  return outcome;
}

}  // namespace rbench
