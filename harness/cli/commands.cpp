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
#include "reports/gate.h"
#include "reports/html/drilldown_page.h"
#include "reports/html/leaderboard_page.h"
#include "reports/leaderboard.h"
#include "scorers/code_scorer.h"
#include "scorers/scorer.h"
#include "scorers/swebench_scorer.h"
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

// The final answer a reference completion gives, in the form the suite's scorer reads: for code, the
// problem's reference program in a fenced block.
std::string reference_answer(const std::string& scorer, const Problem& problem, const std::string& gold) {
  if (scorer == "math") return fmt::format("The answer is $\\boxed{{{}}}$.", gold);
  if (scorer == "mc") return fmt::format("Answer: {}", gold);
  if (scorer == "code" && !problem.solution.empty()) {
    return fmt::format("```python\n{}{}```", problem.solution, problem.solution.ends_with('\n') ? "" : "\n");
  }
  if (scorer == "code") {
    throw UserError(fmt::format("--as-replay: problem {} has no reference solution to replay", problem.id));
  }
  if (scorer == "swebench") return fmt::format("```diff\n{}```", problem.solution);  // the gold patch
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
  const auto scorer = suite->scorer() == "swebench"
                          ? swebench::make_swebench_scorer(swebench::options_from_environment(command.swebench_envs))
                          : make_scorer(suite->scorer());
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
                       {"content", reference_answer(suite->scorer(), problem, prompt.gold)}});
    }
  }
  return 0;
}

namespace {

// One line of `grade --jsonl`: {"gold", "pred"}, or for code {"pred", "material"} (the problem's
// metadata, as `suites export` prints it), with the missing one of gold and material filled in empty.
nlohmann::json read_grade_line(const std::string& line, const std::string& where, bool code) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(fmt::format("{}: not valid JSON ({})", where, e.what()));
  }
  for (const char* field : {code ? "material" : "gold", "pred"}) {
    const bool material = std::string_view(field) == "material";
    if (!object.contains(field) || (material ? !object[field].is_object() : !object[field].is_string())) {
      throw UserError(
          fmt::format("{}: field '{}' missing or not {}", where, field, material ? "an object" : "a string"));
    }
  }
  if (code) object["gold"] = "";
  if (!code) object["material"] = nlohmann::json::object();
  return object;
}

}  // namespace

int grade(const GradeCommand& command) {
  const auto scorer = make_scorer(command.scorer);
  const auto verdict_json = [](const Verdict& verdict) {
    nlohmann::json line{{"correct", verdict.correct},
                        {"extracted", verdict.extracted.empty() ? nlohmann::json(nullptr)
                                                                : nlohmann::json(verdict.extracted)},
                        {"verdict", verdict.verdict}};
    if (!verdict.details.empty()) line["details"] = verdict.details;
    return line;
  };
  if (command.jsonl.empty()) {
    print_json_line(verdict_json(scorer->grade(command.gold, command.pred)));
    return 0;
  }
  std::ifstream in(command.jsonl);
  if (!in) throw UserError(fmt::format("cannot read {}", command.jsonl));
  // Lines are graded in batches as they are read: code in parallel (a program per hardware thread),
  // the other scorers in order on one thread. A bad line stops the file once the lines before it are printed.
  const bool code = scorer->name() == "code";
  constexpr size_t kBatchLines = 64;
  std::vector<nlohmann::json> batch;
  const auto grade_batch = [&] {
    std::vector<std::string> golds, preds;
    for (const auto& object : batch) {
      golds.push_back(object["gold"].get<std::string>());
      preds.push_back(object["pred"].get<std::string>());
    }
    std::vector<Submission> submissions;
    for (size_t i = 0; i < batch.size(); ++i) submissions.push_back({golds[i], preds[i], batch[i]["material"]});
    for (const Verdict& verdict : grade_in_parallel(*scorer, submissions, code ? 0 : 1)) {
      print_json_line(verdict_json(verdict));
    }
    batch.clear();
  };
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    try {
      batch.push_back(read_grade_line(line, fmt::format("{}:{}", command.jsonl, number), code));
    } catch (const UserError&) {
      grade_batch();
      throw;
    }
    if (batch.size() == kBatchLines) grade_batch();
  }
  grade_batch();
  return 0;
}

namespace {

// Writes a report to --output (saying where on stderr), or to stdout.
void write_report(const std::string& output, const std::string& text) {
  if (output.empty()) {
    std::cout << text;
    return;
  }
  std::ofstream out(output, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw UserError(fmt::format("cannot write {}", output));
  fmt::print(stderr, "wrote {} ({} KB)\n", output, (text.size() + 1023) / 1024);
}

}  // namespace

int report(const ReportCommand& command) {
  const LeaderboardOptions options{command.tag, command.dollars_per_gpu_hour};
  if (command.format == "html") {  // one page with both views; the other formats render the rows
    const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
    write_report(command.output, html::render_leaderboard_page(*store, options));
    return 0;
  }
  const ReportFormat format = parse_report_format(command.format);
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  LeaderboardOptions table_options = options;  // the table and Markdown leaderboards show no trace metrics
  table_options.trace_metrics = command.view == "traces" || format == ReportFormat::csv || format == ReportFormat::json;
  const auto rows = leaderboard_rows(*store, table_options);
  write_report(command.output, command.view == "traces" ? render_trace_report(rows, format)
                                                        : render_leaderboard(rows, format));
  return 0;
}

int runs(const ReportCommand& command) {
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  fmt::print("{:<16}  {:<24}  {:<10}  {:>2}  {:>8}  {:<11}  {:<20}  {}\n", "run", "model", "suite", "k", "samples",
             "status", "started", "tags");
  for (const auto& run : store->runs(command.tag)) {
    fmt::print("{:<16}  {:<24}  {:<10}  {:>2}  {:>8}  {:<11}  {:<20}  {}\n", run.run_id, run.model_name,
               run.suite_name, run.k, store->sample_count(run.run_id), run.status, run.started_at,
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

int drilldown(const ReportCommand& command) {
  if (command.run.empty() && command.suite.empty()) throw UserError("drilldown: give --run RUN or --suite SUITE");
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  html::DrilldownRequest request;
  if (!command.suite.empty()) {
    for (const auto& run : store->runs(command.tag)) {
      if (run.suite_name == command.suite) request.run_ids.push_back(run.run_id);
    }
    if (request.run_ids.empty()) {
      throw UserError(fmt::format("--suite {}: no runs of that suite in {}{} (see `rbench runs`)", command.suite,
                                  store->path().string(), command.tag.empty() ? "" : " tagged " + command.tag));
    }
  } else {
    request.run_ids.push_back(resolve_run(*store, command.run));
    if (!command.compare_run.empty()) {
      request.run_ids.push_back(resolve_run(*store, command.compare_run));
      request.side_by_side = true;
    }
  }
  write_report(command.output, html::render_drilldown_page(*store, request));
  return 0;
}

int compare(const CompareCommand& command) {
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  const CompareOptions options{command.cluster_by, command.resamples, command.seed, command.suite};
  std::cout << render_comparisons(compare_selections(*store, command.run_a, command.run_b, options));
  return 0;
}

int gate(const GateCommand& command) {
  const auto store = Store::open(command.db.empty() ? default_db_path() : command.db, StoreMode::read_only);
  GateOptions options;
  options.margin = command.margin;
  options.alpha = command.alpha;
  options.compare.cluster_by = command.cluster_by;
  const GateResult result = run_gate(*store, command.baseline, command.candidate, options);
  if (!command.markdown.empty()) write_report(command.markdown, render_gate_markdown(result));
  std::cout << render_gate_summary(result);
  return result.passed() ? 0 : 1;
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
