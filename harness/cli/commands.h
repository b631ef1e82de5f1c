#pragma once
// The rbench subcommands. main.cpp parses flags into these structs; each command returns the exit code.
#include <cstdint>
#include <string>
#include <vector>

#include "harness/backends/backend.h"
#include "harness/runner.h"

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
  std::string format = "table";
};
int report(const ReportCommand& command);
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

}  // namespace rbench::cli

namespace rbench::cli {

struct CompareCommand {
  std::string db;
  std::string run_a;  // run id or a unique prefix of one
  std::string run_b;
};
int compare(const CompareCommand& command);

}  // namespace rbench::cli
