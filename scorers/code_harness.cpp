#include "scorers/code_harness.h"

#include <fmt/format.h>

namespace rbench {

namespace {

// The test driver. It runs in the sandbox beside the program it tests, so it guards only against
// accidents (prints, exit(), swallowed exceptions, stray threads), never against a program that
// sets out to forge its reports: grading stays as trusting as LiveCodeBench's own in-process runner.
constexpr const char* kTestDriver =
    R"py(# rbench's code-test driver. Reads its job (one JSON object) from stdin and writes one JSON line per
# event to the stdout it started with; the program's own output goes to stderr, and its stdin is empty.
import ast
import io
import json
import os
import signal
import sys
import time
import traceback


class _TimeLimit(BaseException):
    """Raised by the timers; a BaseException, so `except Exception` in the program does not swallow it."""


def _on_timer(signum, frame):
    raise _TimeLimit()


def _display(text, length=300):
    if len(text) <= length:
        return text
    return text[: length // 2] + "...(truncated) ..." + text[-length // 2 :]


def _shown_value(value):
    try:
        return _display(json.dumps(value))
    except BaseException:
        try:
            return _display(repr(value))
        except BaseException:
            return "<unprintable %s>" % type(value).__name__


def _error_text(error):
    if isinstance(error, _TimeLimit):
        return "Time Limit Exceeded"
    return _display("".join(traceback.format_exception_only(type(error), error)).strip())


def _outcome_of(error):
    if isinstance(error, _TimeLimit):
        return "timeout"
    if isinstance(error, MemoryError):
        return "memory_limit"
    if isinstance(error, AssertionError):
        return "wrong_answer"
    return "runtime_error"


def _failed_test_line(error, test_source):
    """The statement of the test source where `error` was raised (innermost frame in it), or ""."""
    lines = test_source.split("\n")
    statement = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == "<test>" and frame.lineno and frame.lineno <= len(lines):
            last = getattr(frame, "end_lineno", None) or frame.lineno
            statement = "\n".join(line.strip() for line in lines[frame.lineno - 1 : last])
    return _display(statement)


class _Driver:
    def __init__(self, job, report_stream):
        self.job = job
        self.report_stream = report_stream
        self.cpu_seconds = job.get("cpu_seconds", 0)
        self.wall_seconds = job.get("wall_seconds", 0)
        self.namespace = {"__name__": job["module_name"], "__builtins__": __builtins__}

    def report(self, **event):
        self.report_stream.write(json.dumps(event) + "\n")
        self.report_stream.flush()

    def limited(self, function):
        """Runs function() under the per-test CPU and wall timers (when the job sets them)."""
        if self.cpu_seconds:
            signal.setitimer(signal.ITIMER_PROF, self.cpu_seconds)
            signal.setitimer(signal.ITIMER_REAL, self.wall_seconds)
        try:
            return function()
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)

    def load_program(self):
        """Compiles and runs the program in its namespace; False (reported) when that fails."""
        try:
            exec(compile(self.job["prelude"], "<prelude>", "exec", dont_inherit=True), self.namespace)
            code = compile(self.job["program"], "solution.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as error:
            self.report(event="compile_error", error=_error_text(error))
            return False
        try:
            self.limited(lambda: exec(code, self.namespace))
        except BaseException as error:
            self.report(event="load_error", outcome=_outcome_of(error), error=_error_text(error))
            return False
        return True

    def run_calls(self):
        """LiveCodeBench's call-based tests: one JSON argument per input line, expected output as JSON."""
        tests = []
        for index, test in enumerate(self.job["tests"]):
            try:
                arguments = [json.loads(line) for line in test["input"].split("\n")]
                tests.append((arguments, json.loads(test["output"])))
            except ValueError as error:
                self.report(event="bad_test", index=index, error=_error_text(error))
                return
        self.report(event="plan", tests=len(tests))
        if not self.load_program():
            return
        name = self.job["func_name"]
        try:
            # LiveCodeBench's own test: LeetCode programs define `class Solution`.
            if "class Solution" in self.job["program"]:
                target = getattr(self.namespace["Solution"](), name)
            else:
                target = self.namespace[name]
        except BaseException as error:
            self.report(event="load_error", outcome=_outcome_of(error), error=_error_text(error))
            return
        for index, (arguments, expected) in enumerate(tests):
            if not self.run_call(index, target, arguments, expected):
                return
        self.report(event="done")

    def run_call(self, index, target, arguments, expected):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        try:
            actual = self.limited(lambda: target(*arguments))
            if isinstance(actual, tuple):  # LiveCodeBench: a tuple result counts as a list
                actual = list(actual)
            passed = actual == expected
            outcome = "passed" if passed else "wrong_answer"
            if self.cpu_seconds and time.process_time() - started_cpu > self.cpu_seconds:
                outcome = "timeout"  # the program swallowed the timer's exception
            shown, error = _shown_value(actual), ""
        except BaseException as caught:
            outcome, shown, error = _outcome_of(caught), "", _error_text(caught)
        elapsed_ms = int((time.perf_counter() - started_wall) * 1000)
        self.report(event="test", index=index, outcome=outcome, actual=shown, error=error, ms=elapsed_ms)
        return outcome == "passed"

    def test_cases(self):
        """The test script cut into cases: each ends at a top-level assert; what follows the last forms one more."""
        tree = ast.parse(self.job["test_script"], "<test>")
        cases, current = [], []
        for statement in tree.body:
            current.append(statement)
            if isinstance(statement, ast.Assert):
                cases.append(current)
                current = []
        if current:
            cases.append(current)
        return [compile(ast.Module(body=case, type_ignores=[]), "<test>", "exec", dont_inherit=True) for case in cases]

    def run_script(self):
        """HumanEval, MBPP, LeetCode: the program, then the test script's cases in order in its namespace."""
        try:
            cases = self.test_cases()
        except (SyntaxError, ValueError) as error:
            self.report(event="bad_test", index=0, error=_error_text(error))
            return
        self.report(event="plan", tests=len(cases))
        if not self.load_program():
            return
        for index, case in enumerate(cases):
            started = time.perf_counter()
            try:
                exec(case, self.namespace)
                outcome, error, line = "passed", "", ""
            except BaseException as caught:
                outcome, error = _outcome_of(caught), _error_text(caught)
                line = _failed_test_line(caught, self.job["test_script"])
            elapsed_ms = int((time.perf_counter() - started) * 1000)
            self.report(event="test", index=index, outcome=outcome, error=error, line=line, ms=elapsed_ms)
            if outcome != "passed":
                return
        self.report(event="done")


def _main():
    job = json.loads(sys.stdin.read())
    # The program reads an empty stdin and prints to stderr; the reports keep the original stdout.
    report_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
    signal.signal(signal.SIGALRM, _on_timer)
    signal.signal(signal.SIGPROF, _on_timer)
    driver = _Driver(job, report_stream)
    if job["mode"] == "call":
        driver.run_calls()
    else:
        driver.run_script()
    sys.stderr.flush()
    os._exit(0)  # neither the program's threads nor its atexit handlers hold the exit


_main()
)py";

std::string python_string_literal(std::string_view text) {
  // A JSON string is a Python string literal (same escapes); invalid UTF-8 becomes U+FFFD.
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const char* const kLiveCodeBenchPrelude =
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n";

const char* const kLeetCodePrelude =
    "import math\nimport re\nimport sys\nimport copy\nimport datetime\nimport itertools\nimport collections\n"
    "import heapq\nimport functools\nimport hashlib\n"
    "try:\n    import numpy\n    import numpy as np\nexcept ImportError:\n    pass\n"
    "import string\nfrom typing import *\nfrom collections import *\nfrom functools import *\n";

std::string stdin_launcher(std::string_view program, std::string_view prelude) {
  // The program runs in the launcher's own module (the real __main__), so pickling and
  // `if __name__ == "__main__":` behave as when the program is the script itself.
  return fmt::format(
      "import sys as _rbench_sys\n"
      "def _rbench_compile():\n"
      "    try:\n"
      "        return compile({program}, 'solution.py', 'exec', dont_inherit=True)\n"
      "    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as error:\n"
      "        import traceback\n"
      "        _rbench_sys.stderr.write({marker} + ''.join(traceback.format_exception_only(type(error), error)))\n"
      "        _rbench_sys.exit({exit})\n"
      "_rbench_program = _rbench_compile()\n"
      "del _rbench_compile\n"
      "exec(compile({prelude}, '<prelude>', 'exec', dont_inherit=True), globals())\n"
      "exec(_rbench_program, globals())\n",
      fmt::arg("program", python_string_literal(program)), fmt::arg("prelude", python_string_literal(prelude)),
      fmt::arg("marker", python_string_literal(kCompileErrorMarker)), fmt::arg("exit", kCompileErrorExit));
}

const std::string& test_driver_source() {
  static const std::string source = kTestDriver;
  return source;
}

nlohmann::json call_job(std::string_view program, std::string_view prelude, std::string_view func_name,
                        const std::vector<CodeTest>& tests, double cpu_seconds, double wall_seconds) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& test : tests) cases.push_back({{"input", test.input}, {"output", test.output}});
  return {{"mode", "call"},
          {"module_name", "solution"},
          {"prelude", prelude},
          {"program", program},
          {"func_name", func_name},
          {"tests", std::move(cases)},
          {"cpu_seconds", cpu_seconds},
          {"wall_seconds", wall_seconds}};
}

nlohmann::json script_job(std::string_view program, std::string_view prelude, std::string_view test_script) {
  return {{"mode", "script"},
          {"module_name", "solution"},
          {"prelude", prelude},
          {"program", program},
          {"test_script", test_script}};
}

namespace {

DriverFailure failure_of(const nlohmann::json& event) {
  return DriverFailure{event.value("outcome", "runtime_error"), event.value("error", ""), event.value("index", 0)};
}

// Applies one event; false when the line is not one of the driver's events.
bool apply_event(const nlohmann::json& event, DriverReport& report) {
  if (!event.is_object() || !event.contains("event") || !event["event"].is_string()) return false;
  const std::string kind = event["event"];
  if (kind == "plan") {
    report.planned = event.value("tests", 0);
  } else if (kind == "compile_error") {
    report.compile_error = event.value("error", "");
  } else if (kind == "load_error") {
    report.load_error = failure_of(event);
  } else if (kind == "bad_test") {
    report.bad_test = failure_of(event);
  } else if (kind == "test") {
    report.tests.push_back(DriverTest{event.value("index", 0), event.value("outcome", ""), event.value("actual", ""),
                                      event.value("error", ""), event.value("line", ""),
                                      event.value("ms", int64_t{0})});
  } else if (kind == "done") {
    report.done = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace

DriverReport parse_driver_report(std::string_view stdout_text) {
  DriverReport report;
  size_t start = 0;
  while (start < stdout_text.size()) {
    const size_t end = stdout_text.find('\n', start);
    if (end == std::string_view::npos) break;  // a line cut off by the process's end
    const auto event = nlohmann::json::parse(stdout_text.substr(start, end - start), nullptr, false);
    if (event.is_discarded()) break;
    try {
      if (!apply_event(event, report)) break;
    } catch (const nlohmann::json::exception&) {
      break;  // a field of the wrong type
    }
    start = end + 1;
  }
  return report;
}

}  // namespace rbench
