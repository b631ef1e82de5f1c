#pragma once
// The Python programs the code scorer runs in the sandbox around a model's program, and what they
// report. Two kinds:
//  - the stdin launcher (LiveCodeBench stdin tests): compiles the program, runs a prelude and then the
//    program as __main__ in one namespace; the program owns stdin and stdout. A program that does not
//    compile exits with kCompileErrorExit after writing kCompileErrorMarker first on stderr.
//  - the test driver (call-based LiveCodeBench tests, HumanEval, MBPP, LeetCode): reads a job (JSON) on
//    stdin and writes one JSON line per event on the stdout it started with, while the program's own
//    prints go to stderr and it reads an empty stdin. It stops at the first failing test.
//    "call" jobs (LiveCodeBench functional tests): each test's input is one JSON argument per line,
//      the result of Solution().<func_name>(*arguments) (or of the module function <func_name> when
//      the program has no `class Solution`) with a tuple read as a list must == the JSON-decoded output;
//      each test runs under CPU and wall timers (signal.setitimer) of its own.
//    "script" jobs: the program runs, then the test script, cut into cases that each end at a
//      top-level assert (the statements after the last assert form one more case), case by case in the
//      program's namespace. A failing assert is a wrong answer; any other exception a runtime error.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbench {

// LiveCodeBench's import_string (lcb_runner/evaluation/testing_util.py): run before every program.
extern const char* const kLiveCodeBenchPrelude;
// DeepSeek-Coder's IMPORT_HELPER for its LeetCode set; numpy is imported only where installed.
extern const char* const kLeetCodePrelude;

inline constexpr int kCompileErrorExit = 3;
inline constexpr std::string_view kCompileErrorMarker = "rbench: the program does not compile\n";

// The stdin launcher around `program` (see above).
std::string stdin_launcher(std::string_view program, std::string_view prelude);

// The test driver's source; its job comes on stdin.
const std::string& test_driver_source();

// One test: stdin and expected stdout, or (call jobs) one JSON argument per line and the JSON result.
struct CodeTest {
  std::string input;
  std::string output;
};

// A "call" job. Each test gets `cpu_seconds` of CPU time and `wall_seconds` of wall time.
nlohmann::json call_job(std::string_view program, std::string_view prelude, std::string_view func_name,
                        const std::vector<CodeTest>& tests, double cpu_seconds, double wall_seconds);
// A "script" job: `test_script` runs after `program`, in its namespace.
nlohmann::json script_job(std::string_view program, std::string_view prelude, std::string_view test_script);

// The driver's events, as read back from its stdout.
struct DriverTest {
  int index = 0;
  std::string outcome;  // passed | wrong_answer | runtime_error | timeout | memory_limit
  std::string actual;   // call jobs: the result, JSON (or repr), truncated
  std::string error;    // the exception, truncated
  std::string line;     // script jobs: the test line that failed
  int64_t ms = 0;
};

struct DriverFailure {
  std::string outcome;  // for load errors: runtime_error | timeout | memory_limit
  std::string error;
  int index = 0;  // for bad tests
};

struct DriverReport {
  std::optional<int> planned;                // how many tests the job has
  std::optional<std::string> compile_error;  // the program does not compile
  std::optional<DriverFailure> load_error;   // running the program (or finding the function) raised
  std::optional<DriverFailure> bad_test;     // a test of the data could not be read: a data error
  std::vector<DriverTest> tests;             // in order, up to and including the first failure
  bool done = false;                         // every test passed
};

// Reads the complete JSON lines of the driver's stdout, up to the first line that is not one of its
// events (a program cannot interleave with them by accident: its prints go to stderr).
DriverReport parse_driver_report(std::string_view stdout_text);

}  // namespace rbench
