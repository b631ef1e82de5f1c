// SWE-bench grading costs outside the tests themselves, on one core:
//  - parsing a pytest -rA log of 5,000 results (a large SWE-bench instance logs a few hundred);
//  - the per-sample checkout of a Django-sized clone (6,000 files, 45 MB of source): copy, git checkout of
//    base_commit, the patch safety check and deleting it again, measured by grading a patch that is refused
//    after the checkout exists (so no test runs).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "scorers/patch.h"
#include "scorers/swebench_log.h"
#include "scorers/swebench_scorer.h"

namespace {

namespace fs = std::filesystem;
using namespace rbench::swebench;

void BM_ParsePytestLog(benchmark::State& state) {
  std::string log = "============================= test session starts ==============================\n";
  for (int i = 0; i < 5000; ++i) {
    log += i % 10 == 0
               ? "FAILED tests/test_module_" + std::to_string(i / 100) + ".py::test_case[" + std::to_string(i) +
                     "] - AssertionError: assert 1 == 2\n"
               : "PASSED tests/test_module_" + std::to_string(i / 100) + ".py::test_case[" + std::to_string(i) + "]\n";
  }
  for (auto _ : state) benchmark::DoNotOptimize(parse_test_log(LogParser::pytest, log));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
  state.SetItemsProcessed(state.iterations() * 5000);
}
BENCHMARK(BM_ParsePytestLog)->Unit(benchmark::kMillisecond);

void git(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "git");
  const ToolRun run = run_tool(args, dir);
  if (run.exit_code != 0) throw std::runtime_error(run.output);
}

// <root>/bench__big/1/repo: 300 packages of 20 modules of 60 functions, committed.
std::string make_big_environment(const fs::path& root) {
  const fs::path repo = root / "bench__big" / "1" / "repo";
  std::mt19937 random(1);
  for (int package = 0; package < 300; ++package) {
    const fs::path dir = repo / "pkg" / ("mod" + std::to_string(package));
    fs::create_directories(dir);
    for (int module = 0; module < 20; ++module) {
      std::ofstream out(dir / ("file" + std::to_string(module) + ".py"));
      for (int function = 0; function < 60; ++function) {
        out << "def f" << function << "(x):\n    return x + " << random() % 1000000 << "\n\n";
      }
    }
  }
  git(repo, {"init", "--quiet"});
  git(repo, {"add", "--all"});
  git(repo, {"-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "--quiet", "-m", "base"});
  std::ofstream(repo.parent_path() / "env.json") << R"({"python": "/usr/bin/python3"})";
  return run_tool({"git", "rev-parse", "HEAD"}, repo).output.substr(0, 40);
}

void BM_CheckoutDjangoSizedClone(benchmark::State& state) {
  const fs::path root = fs::temp_directory_path() / ("rbench-bench-swebench-" + std::to_string(::getpid()));
  const std::string base_commit = make_big_environment(root);
  ScorerOptions options;
  options.environments = root;
  const auto scorer = make_swebench_scorer(options);
  const nlohmann::json material{{"repository", "bench/big"}, {"version", "1"},       {"base_commit", base_commit},
                                {"test_patch", ""},          {"FAIL_TO_PASS", "[]"}, {"PASS_TO_PASS", "[]"}};
  const std::string refused = "--- a/../outside.py\n+++ b/../outside.py\n@@ -1 +1 @@\n-a\n+b\n";
  for (auto _ : state) {
    const auto verdict = scorer->grade(rbench::Submission{"", refused, material});
    if (verdict.details["status"] != "patch_refused") state.SkipWithError("unexpected status");
  }
  fs::remove_all(root);
}
BENCHMARK(BM_CheckoutDjangoSizedClone)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

}  // namespace
