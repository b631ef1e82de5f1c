#include "harness/cli/commands.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.h"
#include "engine/device.h"
#include "harness/pricing.h"
#include "harness/store/store.h"
#include "reports/compare.h"
#include "reports/leaderboard.h"
#include "scorers/scorer.h"
#include "suites/suite.h"

namespace rbench::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

// First Ctrl-C: finish cleanly (in-flight requests abandoned, the run marked interrupted).
// Second: the default action, at once.
void on_stop_signal(int signal_number) {
  g_stop_requested = true;
  ::signal(signal_number, SIG_DFL);
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

SuiteOptions suite_options(int size, uint64_t seed, const std::string& data_dir) {
  SuiteOptions options;
  options.size = size;
  options.seed = seed;
  options.data_dir = data_dir;
  return options;
}

void print_json_line(const nlohmann::json& value) { std::cout << value.dump() << "\n"; }

// The final answer a reference completion gives, in the form the suite's scorer reads.
std::string reference_answer(const std::string& scorer, const std::string& gold) {
  if (scorer == "math") return fmt::format("The answer is $\\boxed{{{}}}$.", gold);
  if (scorer == "mc") return fmt::format("Answer: {}", gold);
  throw UserError(fmt::format("--as-replay: suites graded by '{}' have no single gold answer to replay", scorer));
}

}  // namespace

std::string default_db_path() {
  if (const char* env = std::getenv("RBENCH_DB"); env != nullptr && *env != '\0') return env;
  return "rbench.db";
}

int run(const RunCommand& command) {
  // Every input is checked before anything is written.
  const auto suite =
      open_suite(command.suite, suite_options(command.suite_size, command.suite_seed, command.data_dir));
  const auto scorer = make_scorer(suite->scorer());
  PriceTable prices = PriceTable::builtin();
  if (!command.prices_file.empty()) prices.load_file(command.prices_file);
  const auto backend = make_backend(command.model, command.backend);
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db);

  install_stop_handlers();
  ProgressOptions progress;
  progress.terminal = isatty(STDERR_FILENO) != 0;
  progress.interval_s = command.progress_interval_s;
  const RunOutcome outcome =
      run_evaluation(command.run, *backend, *suite, *scorer, *store, prices, progress, g_stop_requested);

  fmt::print(stderr, "run {}: {} ({} stored before, {} now, {} failed) in {}\n", outcome.run_id, outcome.status,
             outcome.resumed, outcome.completed, outcome.failed, store->path().string());
  if (outcome.status == "finished") return 0;
  if (outcome.status == "interrupted") {
    fmt::print(stderr, "interrupted: rerun the same command to resume\n");
    return 130;
  }
  if (!outcome.last_error.empty()) fmt::print(stderr, "last error: {}\n", outcome.last_error);
  if (outcome.status == "failed") {
    fmt::print(stderr, "stopped after {} failed requests in a row; fix the cause and rerun to resume\n",
               command.run.max_consecutive_errors);
  } else {
    fmt::print(stderr, "{} samples failed; rerun the same command to retry them\n", outcome.failed);
  }
  return 1;
}

int suites(const SuitesCommand& command) {
  if (command.action == "list") {
    for (const auto& info : list_suites()) fmt::print("{:<18} {}\n", info.name, info.description);
    return 0;
  }
  const auto suite =
      open_suite(command.name, suite_options(command.suite_size, command.suite_seed, command.data_dir));
  const auto& problems = suite->problems();
  const size_t count = command.limit > 0 ? std::min<size_t>(command.limit, problems.size()) : problems.size();
  if (command.action == "show") {
    fmt::print("suite     {}\nproblems  {}\nscorer    {}\nversion   {}\n", suite->name(), problems.size(),
               suite->scorer(), suite->data_hash());
    if (problems.empty()) return 0;
    const Prompt prompt = suite->render(problems.front(), 0);
    fmt::print("\nprompt of {} (sample 0):\n", problems.front().id);
    for (const auto& message : prompt.messages) fmt::print("[{}]\n{}\n", message.role, message.content);
    fmt::print("[assistant prefill]\n{}\ngold: {}\n", prompt.assistant_prefill, prompt.gold);
    return 0;
  }
  // export: problems as JSONL, or their reference solutions as replay completions
  if (!command.as_replay && !suite->questions_exportable()) {
    throw UserError(fmt::format("suite {}: its authors ask that the questions never be written out in plain text, "
                                "so `suites export` refuses (--as-replay, which prints no question, works)",
                                suite->name()));
  }
  for (size_t i = 0; i < count; ++i) {
    const Problem& problem = problems[i];
    if (!command.as_replay) {
      print_json_line({{"problem_id", problem.id}, {"question", problem.question}, {"gold", problem.gold},
                       {"solution", problem.solution}, {"metadata", problem.metadata}});
      continue;
    }
    for (int s = 0; s < command.samples; ++s) {
      const Prompt prompt = suite->render(problem, s);  // the gold can differ per sample (shuffled choices)
      print_json_line({{"problem_id", problem.id}, {"sample_index", s}, {"model", suite->name() + "-reference"},
                       {"reasoning_content", problem.solution},
                       {"content", reference_answer(suite->scorer(), prompt.gold)}});
    }
  }
  return 0;
}

int grade(const GradeCommand& command) {
  const auto scorer = make_scorer(command.scorer);
  const auto verdict_json = [](const Verdict& verdict) {
    return nlohmann::json{{"correct", verdict.correct},
                          {"extracted", verdict.extracted.empty() ? nlohmann::json(nullptr)
                                                                  : nlohmann::json(verdict.extracted)},
                          {"verdict", verdict.verdict}};
  };
  if (command.jsonl.empty()) {
    print_json_line(verdict_json(scorer->grade(command.gold, command.pred)));
    return 0;
  }
  std::ifstream in(command.jsonl);
  if (!in) throw UserError(fmt::format("cannot read {}", command.jsonl));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = fmt::format("{}:{}", command.jsonl, number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw UserError(fmt::format("{}: not valid JSON ({})", where, e.what()));
    }
    for (const char* field : {"gold", "pred"}) {
      if (!object.contains(field) || !object[field].is_string()) {
        throw UserError(fmt::format("{}: field '{}' missing or not a string", where, field));
      }
    }
    print_json_line(verdict_json(scorer->grade(object["gold"].get<std::string>(), object["pred"].get<std::string>())));
  }
  return 0;
}

int report(const ReportCommand& command) {
  const ReportFormat format = parse_report_format(command.format);
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  std::cout << render_leaderboard(leaderboard_rows(*store, command.tag), format);
  return 0;
}

int runs(const ReportCommand& command) {
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  fmt::print("{:<16}  {:<24}  {:<10}  {:>2}  {:>8}  {:<11}  {:<20}  {}\n", "run", "model", "suite", "k", "samples",
             "status", "started", "tags");
  for (const auto& run : store->runs(command.tag)) {
    fmt::print("{:<16}  {:<24}  {:<10}  {:>2}  {:>8}  {:<11}  {:<20}  {}\n", run.run_id, run.model_name,
               run.suite_name, run.k, store->samples(run.run_id).size(), run.status, run.started_at,
               fmt::join(run.tags, ","));
  }
  return 0;
}

namespace {

std::string resolve_run(const Store& store, const std::string& prefix) {
  std::vector<std::string> matches;
  for (const auto& run : store.runs()) {
    if (run.run_id.starts_with(prefix)) matches.push_back(run.run_id);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) throw UserError(fmt::format("no run '{}' in {} (see `rbench runs`)", prefix, store.path().string()));
  throw UserError(fmt::format("run prefix '{}' is ambiguous: {}", prefix, fmt::join(matches, ", ")));
}

}  // namespace

int compare(const CompareCommand& command) {
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  const auto comparison = compare_runs(*store, resolve_run(*store, command.run_a), resolve_run(*store, command.run_b));
  std::cout << render_comparison(comparison);
  return 0;
}

int prices(const std::string& prices_file) {
  PriceTable table = PriceTable::builtin();
  if (!prices_file.empty()) table.load_file(prices_file);
  fmt::print("{:<20} {:>10} {:>10} {:>10}  {}\n", "model", "$/M in", "$/M cached", "$/M out", "as of");
  for (const auto& [name, price] : table.entries()) {
    fmt::print("{:<20} {:>10.3f} {:>10.3f} {:>10.3f}  {}\n", name, price.input, price.cached_input, price.output,
               price.date);
  }
  return 0;
}

int environment() {
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& gpu : engine::list_gpus()) {
    gpus.push_back({{"index", gpu.index}, {"name", gpu.name},
                    {"compute_capability", fmt::format("{}.{}", gpu.compute_major, gpu.compute_minor)},
                    {"memory_gib", gpu.memory_bytes / double(1ULL << 30)}, {"multiprocessors", gpu.multiprocessors}});
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  print_json_line({{"version", engine_version()}, {"host", host}, {"cpu_threads", std::thread::hardware_concurrency()},
                   {"cuda_built", engine::built_with_cuda()}, {"gpus", gpus}});
  return 0;
}

}  // namespace rbench::cli
