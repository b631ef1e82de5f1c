#pragma once
// The "code" scorer: takes the program out of a response (code_extraction.h) and runs it against the
// problem's tests in the sandbox (code_execution.h). The problem's material (its metadata) says how,
// by `test_format`:
//   "livecodebench"    public then private tests; call-based (LeetCode `class Solution`) when the
//                      material has `func_name`, else stdin/stdout (Python, or C++ in a ```cpp block)
//   "humaneval_check"  `prompt` + the program, then `test` and check(<entry_point>)
//   "assert_list"      the program, then `test_setup_code` and the asserts of `test_list` (MBPP)
//   "assert_script"    DeepSeek-Coder's imports + the program, then the `test` script (LeetCode)
// The verdict is "correct" when every test passes, "no_answer" when the response holds no program,
// "incorrect" otherwise; Verdict::details is
//   {"status": passed | wrong_answer | timeout | runtime_error | compile_error | memory_limit |
//              output_limit | no_code,
//    "tests_passed": N, "tests_total": M (null when a script's tests were never counted),
//    "first_failure": {"index", "input", "expected", "actual", "stderr", "message"} or null,
//    "language": "python" | "cpp" (absent without code), "wall_ms": sandboxed time}
// with texts cut to about 300 characters. A sandbox that cannot isolate (its setup_error), and test
// material that is missing or malformed, throw UserError: the run stops and says why, rather than
// storing verdicts that blame the model.
#include <cstdint>
#include <memory>
#include <vector>

#include "scorers/scorer.h"

namespace rbench {

struct CodeScorerOptions {
  double livecodebench_test_seconds = 6.0;  // per test: LiveCodeBench's default
  double check_script_seconds = 3.0;        // HumanEval's whole check: its default
  double assert_script_seconds = 10.0;      // MBPP's and LeetCode's whole script: DeepSeek-Coder's evaluations
  double sample_budget_seconds = 0.0;       // all of a sample's tests; 0: LiveCodeBench's (t + 1) * tests + 5
  int64_t memory_mb = 4096;                 // per process: the 4 GB of LiveCodeBench's note and EvalPlus
};

std::unique_ptr<Scorer> make_code_scorer(const CodeScorerOptions& options = {});

// Grades `submissions` on `threads` threads (0: one per hardware thread); the verdicts come in input
// order. The first exception stops the remaining work and is rethrown.
std::vector<Verdict> grade_in_parallel(const Scorer& scorer, const std::vector<Submission>& submissions,
                                       unsigned threads = 0);

}  // namespace rbench
