#pragma once
// Running a model's program against tests in the sandbox, and what came of it. Every program runs out
// of process under rbench::sandbox; a sandbox that cannot isolate throws UserError (never a silent
// "incorrect"). Time limits are CPU time; the wall-clock limit beside each is 2 x + 1 s, so that a
// busy grading machine does not turn a correct program into a timeout, and at most one program per
// hardware thread runs at a time, however many threads grade. Each process also gets
// kInterpreterStartSeconds for the interpreter and the prelude's imports.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scorers/code_extraction.h"
#include "scorers/code_harness.h"

namespace rbench {

inline constexpr double kInterpreterStartSeconds = 1.0;

struct ExecutionLimits {
  double test_seconds = 6.0;           // per test (stdin and call-based tests) or per script
  double sample_budget_seconds = 0.0;  // all of a sample's tests; 0: LiveCodeBench's (test_seconds + 1) * tests + 5
  int64_t memory_mb = 4096;
};

// The first failing test, its texts truncated for a reader (nullopt where a format has no such text:
// an assert script has no separate expected output).
struct TestFailure {
  int index = 0;  // which test (0-based)
  std::optional<std::string> input;
  std::optional<std::string> expected;
  std::optional<std::string> actual;
  std::string stderr_text;
  std::string message;  // why, in one line ("Wrong answer at output_line_idx=0: 3 != 4", ...)
};

struct TestRun {
  std::string status;  // passed | wrong_answer | timeout | runtime_error | compile_error | memory_limit | output_limit
  int tests_passed = 0;
  int tests_total = 0;
  std::optional<TestFailure> first_failure;
  int64_t wall_ms = 0;  // the sandboxed processes' wall time, summed
};

// LiveCodeBench stdin tests: one process per test (each has its own stdin), in order, stopping at the
// first failure. Python runs after kLiveCodeBenchPrelude; C++ is compiled by the sandbox's g++.
TestRun run_stdio_tests(const ExtractedCode& program, const std::vector<CodeTest>& tests,
                        const ExecutionLimits& limits);

// LiveCodeBench call-based tests: all in one driver process, each under its own timers, stopping at
// the first failure; the process may use the sum of the per-test limits, within the sample budget.
TestRun run_call_tests(const std::string& program, const std::string& func_name, const std::vector<CodeTest>& tests,
                       const ExecutionLimits& limits);

// A check or assert script (HumanEval, MBPP, LeetCode) after the program, in one process that gets
// limits.test_seconds in all, as the reference harnesses give the whole script one limit.
TestRun run_test_script(const std::string& program, const std::string& prelude, const std::string& test_script,
                        const ExecutionLimits& limits);

}  // namespace rbench
