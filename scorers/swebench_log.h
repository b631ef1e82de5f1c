#pragma once
// SWE-bench test logs: per-test statuses read from a test run's output, and the FAIL_TO_PASS /
// PASS_TO_PASS grading rules, as the SWE-bench harness has them (swebench/harness/log_parsers/python.py
// and grading.py; ../shared/GRADING_NOTES.md §4). Test ids are the parsers' strings, byte for byte: the
// dataset's FAIL_TO_PASS and PASS_TO_PASS lists were made by these same parsers.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbench::swebench {

enum class TestStatus { passed, failed, skipped, error, xfail };
const char* test_status_name(TestStatus status);  // "PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL"

using StatusMap = std::map<std::string, TestStatus>;

// One parser per test-output format (MAP_REPO_TO_PARSER_PY):
//  pytest          `pytest -rA` short-summary lines "PASSED id", "FAILED id - msg" ("SKIPPED [2] file:line"
//                  counts are not tests);
//  pytest_options  the same, with a parametrized id whose option is an absolute path cut to its last part
//                  (test[/tmp/x/a.txt] -> test[/a.txt]): pydicom, requests, pylint;
//  pytest_v2       the same after removing ANSI colours and control characters, plus old pytest's
//                  "id STATUS" lines: astropy, scikit-learn, sphinx;
//  django          Django's runner at --verbosity 2: "name (module.Class) ... ok|skipped|FAIL|ERROR",
//                  "FAIL: name" headers, and an "ok" that lands on a later line;
//  sympy           bin/test: "test_name ok|F|E" lines and "____ file.py:test_name ____" failure headers;
//  matplotlib      pytest, with MouseButton.LEFT/RIGHT ids written 1/3;
//  seaborn         pytest summaries plus "id PASSED" lines.
enum class LogParser { pytest, pytest_options, pytest_v2, django, sympy, matplotlib, seaborn };
const char* log_parser_name(LogParser parser);
// Throws UserError naming the known parsers.
LogParser parse_log_parser_name(std::string_view name);
// The parser SWE-bench uses for a repository ("django/django" -> django); pytest for unknown ones.
LogParser log_parser_for_repository(std::string_view repository);

StatusMap parse_test_log(LogParser parser, std::string_view log);

// Why a test run's log cannot be graded, or nullopt when it can: no test results at all (the suite never
// ran), or a non-zero exit code while the log reports no FAILED/ERROR test — a patch can print fake PASSED
// lines from a conftest.py hook, and the exit code is what it cannot forge.
std::optional<std::string> invalid_log_reason(const StatusMap& statuses, int exit_code);

struct TestGroupReport {
  std::vector<std::string> passed;
  std::vector<std::string> failed;
  double rate() const;  // passed / all; 1 for an empty group
};

struct TestsReport {
  TestGroupReport fail_to_pass;
  TestGroupReport pass_to_pass;
};

// FAIL_TO_PASS tests pass when PASSED or XFAIL, and fail when FAILED, ERROR, SKIPPED (a skipped test is no
// fix) or missing; PASS_TO_PASS tests also pass when SKIPPED. A truncated parametrized id ("test[a" of
// "test[a b]") that is not in the map takes the status of the ids it starts, when they all agree.
TestsReport grade_tests(const StatusMap& statuses, const std::vector<std::string>& fail_to_pass,
                        const std::vector<std::string>& pass_to_pass);

// full: every FAIL_TO_PASS and PASS_TO_PASS test passes; partial: some but not all FAIL_TO_PASS tests and
// every PASS_TO_PASS test; no: anything else.
enum class Resolution { full, partial, no };
Resolution resolution(const TestsReport& report);

}  // namespace rbench::swebench
