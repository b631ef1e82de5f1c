#include "scorers/code_execution.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <semaphore>
#include <thread>

#include "common/error.h"
#include "sandbox/languages.h"
#include "scorers/output_comparison.h"

namespace rbench {

namespace {

constexpr double kWallFactor = 2.0;
constexpr double kWallSlackSeconds = 1.0;
constexpr int64_t kMinimumOutputBytes = 8 << 20;

double wall_seconds_for(double cpu_seconds) { return cpu_seconds * kWallFactor + kWallSlackSeconds; }

double sample_budget_seconds(const ExecutionLimits& limits, size_t tests) {
  if (limits.sample_budget_seconds > 0) return limits.sample_budget_seconds;
  return (limits.test_seconds + 1.0) * static_cast<double>(tests) + 5.0;
}

sandbox::Limits process_limits(double cpu_seconds, double wall_seconds, const ExecutionLimits& limits,
                               int64_t output_bytes = kMinimumOutputBytes) {
  sandbox::Limits process;
  process.cpu_seconds = cpu_seconds;
  process.wall_seconds = wall_seconds;
  process.memory_mb = limits.memory_mb;
  process.output_bytes = output_bytes;
  return process;
}

// A sandbox that cannot isolate is the machine's fault, not the program's: stop rather than grade.
void require_isolation(const sandbox::Result& result) {
  if (result.status != sandbox::Status::setup_error) return;
  throw UserError(fmt::format("the sandbox could not run the program ({}); check `rbench sandbox run` on this machine",
                              result.message));
}

// A Python program that died of MemoryError hit the address-space limit (machines without cgroups).
bool python_memory_error(const sandbox::Result& result) {
  std::string_view text = result.stderr_data;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const size_t line = text.rfind('\n');
  return text.substr(line == std::string_view::npos ? 0 : line + 1).starts_with("MemoryError");
}

// How a process that ran failed, or nullopt when it exited 0 with all its output. Only a cut stdout
// fails a program: a flood of stderr is cut and ignored.
std::optional<std::string> process_failure(const sandbox::Result& result) {
  switch (result.status) {
    case sandbox::Status::timeout:
      return "timeout";
    case sandbox::Status::memory_limit:
      return "memory_limit";
    case sandbox::Status::ok:
    case sandbox::Status::output_limit:
    case sandbox::Status::runtime_error:
    case sandbox::Status::killed:
    case sandbox::Status::setup_error:
      break;
  }
  if (result.stdout_truncated) return "output_limit";
  if (result.exit_code == 0 && result.signal == 0) return std::nullopt;
  return python_memory_error(result) ? "memory_limit" : "runtime_error";
}

std::string process_message(const std::string& status, const sandbox::Result& result) {
  std::string message = status == "timeout"        ? "Time Limit Exceeded"
                        : status == "memory_limit" ? "Memory Limit Exceeded"
                        : status == "output_limit" ? "Output Limit Exceeded"
                        : result.signal != 0       ? fmt::format("Runtime Error (signal {})", result.signal)
                                                   : fmt::format("Runtime Error (exit code {})", result.exit_code);
  if (!result.message.empty()) message += ": " + result.message;
  return message;
}

void fail(TestRun& run, std::string status, TestFailure failure) {
  run.status = std::move(status);
  run.first_failure = std::move(failure);
}

bool python_compile_error(const sandbox::Result& result) {
  return result.exit_code == kCompileErrorExit && std::string_view(result.stderr_data).starts_with(kCompileErrorMarker);
}

// At most one program per hardware thread runs at a time, whatever the runner's concurrency (which is
// set for the backend's sake): each then has a core, and its wall time stays near its CPU time.
class ExecutionSlot {
 public:
  ExecutionSlot() { slots().acquire(); }
  ~ExecutionSlot() { slots().release(); }
  ExecutionSlot(const ExecutionSlot&) = delete;
  ExecutionSlot& operator=(const ExecutionSlot&) = delete;

 private:
  static std::counting_semaphore<1024>& slots() {
    static std::counting_semaphore<1024> slots(
        std::clamp<std::ptrdiff_t>(std::thread::hardware_concurrency(), 1, 1024));
    return slots;
  }
};

sandbox::ProgramRun run_in_slot(sandbox::Language language, const std::string& source, const std::string& stdin_data,
                                const sandbox::Limits& limits) {
  const ExecutionSlot slot;
  return sandbox::run_source(language, source, stdin_data, limits);
}

// ----------------------------------------------------------------------------------------------------
// The test driver's report

// What a failing test shows beside the driver's words: its input and expected output, where the
// format has them.
using DescribeTest = std::function<TestFailure(int index)>;

TestFailure driver_failure(const DescribeTest& describe, int index, const sandbox::Result& result,
                           std::string message) {
  TestFailure failure = describe(index);
  failure.stderr_text = display_text(result.stderr_data);
  failure.message = std::move(message);
  return failure;
}

TestRun read_driver_run(const DriverReport& report, const sandbox::Result& result, const DescribeTest& describe) {
  if (report.bad_test) {
    throw UserError(
        fmt::format("test {} of the problem cannot be read: {}", report.bad_test->index, report.bad_test->error));
  }
  if (!report.planned) {
    // The driver announces its tests before it touches the program: without that, the driver failed.
    const std::string status = process_failure(result).value_or("runtime_error");
    throw UserError(fmt::format("the test driver failed before running the program ({}): {}",
                                process_message(status, result), display_text(result.stderr_data)));
  }
  TestRun run;
  run.tests_total = *report.planned;
  run.wall_ms = result.wall_ms;
  if (report.compile_error) {
    TestFailure failure = driver_failure(describe, 0, result, "Compilation Error");
    failure.actual = *report.compile_error;
    fail(run, "compile_error", std::move(failure));
    return run;
  }
  if (report.load_error) {
    TestFailure failure = driver_failure(describe, 0, result, "the program failed before the first test");
    failure.actual = report.load_error->error;
    fail(run, report.load_error->outcome, std::move(failure));
    return run;
  }
  for (const DriverTest& test : report.tests) {
    if (test.outcome == "passed") {
      ++run.tests_passed;
      continue;
    }
    TestFailure failure =
        driver_failure(describe, test.index, result, test.error.empty() ? "Wrong Answer" : test.error);
    if (!test.line.empty()) failure.input = test.line;
    if (!test.actual.empty()) failure.actual = test.actual;
    fail(run, test.outcome, std::move(failure));
    return run;
  }
  if (report.done) {
    run.status = "passed";
    return run;
  }
  // The process ended inside a test: killed by a limit, crashed, or the program ended it.
  const int index = static_cast<int>(report.tests.size());
  const std::string status = process_failure(result).value_or("runtime_error");
  const std::string message = process_failure(result)
                                  ? process_message(status, result)
                                  : fmt::format("the program ended the process during test {}", index);
  fail(run, status, driver_failure(describe, index, result, message));
  return run;
}

sandbox::Result run_driver(const nlohmann::json& job, const sandbox::Limits& limits) {
  const std::string job_text = job.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const sandbox::ProgramRun program_run =
      run_in_slot(sandbox::Language::python, test_driver_source(), job_text, limits);
  require_isolation(program_run.result);
  return program_run.result;
}

}  // namespace

TestRun run_stdio_tests(const ExtractedCode& program, const std::vector<CodeTest>& tests,
                        const ExecutionLimits& limits) {
  TestRun run;
  run.tests_total = static_cast<int>(tests.size());
  const double budget = sample_budget_seconds(limits, tests.size());
  const bool python = program.language == CodeLanguage::python;
  const std::string source = python ? stdin_launcher(program.code, kLiveCodeBenchPrelude) : program.code;
  for (size_t i = 0; i < tests.size(); ++i) {
    const CodeTest& test = tests[i];
    TestFailure failure;
    failure.index = static_cast<int>(i);
    failure.input = display_text(test.input);
    failure.expected = display_text(test.output);
    // The budget counts the programs' own wall time, not time spent waiting for an execution slot.
    const double remaining = budget - static_cast<double>(run.wall_ms) / 1000.0;
    if (remaining <= 0) {
      failure.message = fmt::format("the sample's time budget of {:.0f} s ran out", budget);
      fail(run, "timeout", std::move(failure));
      return run;
    }
    const int64_t output_bytes = std::max<int64_t>(kMinimumOutputBytes, 2 * static_cast<int64_t>(test.output.size()));
    const sandbox::Limits process = process_limits(
        limits.test_seconds + kInterpreterStartSeconds,
        std::min(wall_seconds_for(limits.test_seconds) + kInterpreterStartSeconds, remaining), limits, output_bytes);
    const sandbox::ProgramRun program_run =
        run_in_slot(python ? sandbox::Language::python : sandbox::Language::cpp, source, test.input, process);
    const sandbox::Result& result = program_run.result;
    require_isolation(result);
    run.wall_ms += result.wall_ms;
    failure.stderr_text = display_text(result.stderr_data);
    if (program_run.compile_error || (python && python_compile_error(result))) {
      failure.message = "Compilation Error";
      fail(run, "compile_error", std::move(failure));
      return run;
    }
    failure.actual = display_text(result.stdout_data);
    if (const auto status = process_failure(result)) {
      failure.message = process_message(*status, result);
      fail(run, *status, std::move(failure));
      return run;
    }
    if (auto mismatch = stdout_mismatch(result.stdout_data, test.output)) {
      failure.message = std::move(*mismatch);
      fail(run, "wrong_answer", std::move(failure));
      return run;
    }
    ++run.tests_passed;
  }
  run.status = "passed";
  return run;
}

TestRun run_call_tests(const std::string& program, const std::string& func_name, const std::vector<CodeTest>& tests,
                       const ExecutionLimits& limits) {
  const double count = static_cast<double>(tests.size());
  const double budget = sample_budget_seconds(limits, tests.size());
  const sandbox::Limits process = process_limits(
      count * limits.test_seconds + kInterpreterStartSeconds,
      std::min(count * wall_seconds_for(limits.test_seconds) + kInterpreterStartSeconds, budget), limits);
  const nlohmann::json job = call_job(program, kLiveCodeBenchPrelude, func_name, tests, limits.test_seconds,
                                      wall_seconds_for(limits.test_seconds));
  const sandbox::Result result = run_driver(job, process);
  return read_driver_run(parse_driver_report(result.stdout_data), result, [&](int index) {
    TestFailure failure;
    failure.index = index;
    if (index >= 0 && static_cast<size_t>(index) < tests.size()) {
      failure.input = display_text(tests[index].input);
      failure.expected = display_text(tests[index].output);
    }
    return failure;
  });
}

TestRun run_test_script(const std::string& program, const std::string& prelude, const std::string& test_script,
                        const ExecutionLimits& limits) {
  double wall = wall_seconds_for(limits.test_seconds) + kInterpreterStartSeconds;
  if (limits.sample_budget_seconds > 0) wall = std::min(wall, limits.sample_budget_seconds);
  const sandbox::Limits process = process_limits(limits.test_seconds + kInterpreterStartSeconds, wall, limits);
  const sandbox::Result result = run_driver(script_job(program, prelude, test_script), process);
  return read_driver_run(parse_driver_report(result.stdout_data), result, [](int index) {
    TestFailure failure;
    failure.index = index;
    return failure;
  });
}

}  // namespace rbench
