#pragma once
// The rbench subcommands. main.cpp parses flags into these structs; each command returns the exit code.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/backends/backend.h"
#include "harness/runner.h"
#include "reports/statistics.h"

namespace rbench::cli {

struct RunCommand {
  std::string model;
  std::string suite = "arith";
  std::string db;
  std::string prices_file;
  double progress_interval_s = 30.0;
  int suite_size = 0;
  uint64_t suite_seed = 0;
  std::string data_dir;
  std::string swebench_envs;  // prepared SWE-bench environments; empty: $RBENCH_SWEBENCH_ENVS
  RunOptions run;
  BackendOptions backend;
};
int run(const RunCommand& command);

struct SuitesCommand {
  std::string action;  // list | show | export
  std::string name;
  int limit = 0;
  int samples = 1;
  bool as_replay = false;  // export the reference solutions as replay completions
  int suite_size = 0;
  uint64_t suite_seed = 0;
  std::string data_dir;
};
int suites(const SuitesCommand& command);

struct GradeCommand {
  std::string scorer = "math";
  std::string gold;
  std::string pred;
  std::string jsonl;
};
int grade(const GradeCommand& command);

struct ReportCommand {
  std::string db;
  std::string tag;
  std::string format = "table";  // table | markdown | csv | json | html
  std::string output;            // file to write; stdout when empty
  // drilldown: the runs of --suite (tag-filtered), or --run and optionally --compare (ids or unique prefixes)
  std::string run;
  std::string compare_run;
  std::string suite;
  std::string view = "leaderboard";  // leaderboard | traces (the reasoning-trace metrics)
  std::optional<double> dollars_per_gpu_hour;  // prices self-hosted samples from their GPU time
};
int report(const ReportCommand& command);
int drilldown(const ReportCommand& command);
int runs(const ReportCommand& command);

int prices(const std::string& prices_file);
int environment();

std::string default_db_path();  // $RBENCH_DB or ./rbench.db

}  // namespace rbench::cli

namespace rbench::cli {

struct EngineCommand {
  std::string tokenizer;   // tokenize: tokenizer.json or model dir
  std::string model;       // forward / generate: model dir
  std::string text;
  std::string text_file;
  std::string decode_ids;  // "1,2,3"
  std::string ids;         // "1,2,3"
  std::string prompt;
  bool chat = false;
  std::string device = "cpu";
  int max_tokens = 64;
  bool greedy = false;
  double temperature = 0.6;
  double top_p = 0.95;
  uint64_t seed = 0;
  bool ignore_eos = false;
};
int tokenize(const EngineCommand& command);
int forward(const EngineCommand& command);
int generate(const EngineCommand& command);

// rbench bench: the engine's prefill and decode speed beside the HBM roofline, on a checkpoint or on
// random weights in the shape of a known model.
struct BenchCommand {
  std::string model;        // checkpoint directory, or
  std::string shape;        // a known shape with random weights (CUDA only)
  std::string device = "cuda";
  std::string batches = "1";  // comma-separated batch sizes, one JSON line each
  int prompt = 128;
  int gen = 128;
  uint64_t seed = 0;
  bool cuda_graphs = true;
  bool profile = false;  // also GPU milliseconds per op family of a decode step
  double temperature = 0;  // 0: greedy, as the peer script decodes; else every sequence samples
  double top_p = 1;
};
int bench(const BenchCommand& command);

}  // namespace rbench::cli

namespace rbench::cli {

struct CompareCommand {
  std::string db;
  std::string run_a;  // run id, tag, model name, or a unique run-id prefix
  std::string run_b;
  std::string cluster_by = "auto";
  std::string suite;
  int resamples = kDefaultResamples;
  uint64_t seed = kDefaultResamplingSeed;
};
int compare(const CompareCommand& command);

struct GateCommand {
  std::string db;
  std::string baseline;   // run id, tag, model name, or a unique run-id prefix
  std::string candidate;
  double margin = 0.0;
  double alpha = 0.05;
  std::string markdown;   // file for the Markdown summary
  std::string cluster_by = "auto";
};
// 0 when every suite passes, 1 on a regression; errors throw (exit 2).
int gate(const GateCommand& command);

}  // namespace rbench::cli

namespace rbench::cli {

struct SandboxCommand {
  std::string language;          // python | cpp
  std::string file;              // the program's source
  std::string stdin_file;        // empty: no input
  double time_limit_s = 10.0;    // CPU seconds; the wall clock allows 2x + 1
  int64_t memory_limit_mb = 1024;
  bool unsafe_no_sandbox = false;
};
// Prints the sandbox's result as JSON; 0 when the program ran (whatever its status), 1 on setup_error.
int sandbox_run(const SandboxCommand& command);

}  // namespace rbench::cli
