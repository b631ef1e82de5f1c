// The code scorer's costs: extracting a program and comparing outputs (in process), and grading one
// sample in the sandbox: a HumanEval check, ten stdin tests (one process each) against the same ten
// tests call-based (one driver process), so the driver's saving shows.
#include <benchmark/benchmark.h>

#include <string>

#include "scorers/code_extraction.h"
#include "scorers/code_scorer.h"
#include "scorers/output_comparison.h"

namespace {

constexpr int kTests = 10;

void BM_ExtractCode(benchmark::State& state) {
  std::string response;
  for (int i = 0; i < 40; ++i) response += "Reasoning about the problem, step " + std::to_string(i) + ".\n\n";
  response += "```python\ndef f(x):\n    return x + 1\n```\nUsage:\n```python\nprint(f(1))\n```\n";
  for (auto _ : state) benchmark::DoNotOptimize(rbench::extract_code(response, {}));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * response.size()));
}
BENCHMARK(BM_ExtractCode);

// 100,000 lines of three numbers, printed differently (1.50 vs 1.5), so every line takes the Decimal path.
void BM_CompareNumericOutput(benchmark::State& state) {
  std::string actual, expected;
  for (int i = 0; i < 100000; ++i) {
    actual += std::to_string(i) + " " + std::to_string(i % 97) + ".50 -0\n";
    expected += std::to_string(i) + " " + std::to_string(i % 97) + ".5 0\n";
  }
  for (auto _ : state) benchmark::DoNotOptimize(rbench::stdout_mismatch(actual, expected));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * actual.size()));
}
BENCHMARK(BM_CompareNumericOutput)->Unit(benchmark::kMillisecond);

void grade(benchmark::State& state, const nlohmann::json& material, const std::string& response) {
  const auto scorer = rbench::make_code_scorer();
  for (auto _ : state) {
    const rbench::Verdict verdict = scorer->grade(rbench::Submission{"", response, material});
    if (!verdict.correct) state.SkipWithError(verdict.details.dump().c_str());
  }
}

void BM_GradeHumanEvalCheck(benchmark::State& state) {
  const nlohmann::json material = {{"test_format", "humaneval_check"},
                                   {"entry_point", "add"},
                                   {"prompt", "def add(a, b):\n    \"\"\"Add.\"\"\"\n"},
                                   {"test", "def check(candidate):\n    assert candidate(1, 2) == 3\n"}};
  grade(state, material, "```python\n    return a + b\n```");
}
BENCHMARK(BM_GradeHumanEvalCheck)->Unit(benchmark::kMillisecond)->UseRealTime();

nlohmann::json sum_tests(const char* testtype) {
  nlohmann::json tests = nlohmann::json::array();
  for (int i = 0; i < kTests; ++i) {
    const bool stdin_test = std::string(testtype) == "stdin";
    tests.push_back({{"input", std::to_string(i) + (stdin_test ? " " : "\n") + std::to_string(i)},
                     {"output", std::to_string(2 * i)},
                     {"testtype", testtype}});
  }
  return tests;
}

void BM_GradeTenStdinTests(benchmark::State& state) {
  const nlohmann::json material = {{"test_format", "livecodebench"}, {"public_test_cases", sum_tests("stdin")}};
  grade(state, material, "```python\na, b = map(int, input().split())\nprint(a + b)\n```");
}
BENCHMARK(BM_GradeTenStdinTests)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GradeTenCallTests(benchmark::State& state) {
  const nlohmann::json material = {
      {"test_format", "livecodebench"}, {"func_name", "add"}, {"public_test_cases", sum_tests("functional")}};
  grade(state, material, "```python\nclass Solution:\n    def add(self, a, b):\n        return a + b\n```");
}
BENCHMARK(BM_GradeTenCallTests)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
