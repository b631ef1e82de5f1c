// The "code" scorer: program extraction, LiveCodeBench's output comparison (exact decimals), the test
// driver's report, and grading in the sandbox for every test format and every status, including three
// real LiveCodeBench problems loaded through the suite (their tests in the loader's side store) with
// correct and wrong solutions written here.
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "sandbox/sandbox.h"
#include "scorers/code_extraction.h"
#include "scorers/code_harness.h"
#include "scorers/code_scorer.h"
#include "scorers/output_comparison.h"
#include "suites/livecodebench.h"
#include "suites/suite.h"
#include "support/test_support.h"

namespace rbench {
namespace {

namespace fs = std::filesystem;
using testing::ScopedEnvironment;
using testing::TempDir;

// ----------------------------------------------------------------------------------------------------
// Extraction

std::optional<std::string> python_code(std::string_view response, ExtractionRules rules = {}) {
  const auto code = extract_code(response, rules);
  if (!code) return std::nullopt;
  EXPECT_EQ(code->language, CodeLanguage::python);
  return code->code;
}

TEST(CodeExtraction, TakesTheLastPythonBlock) {
  EXPECT_EQ(python_code("First try:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\n```\nDone."), "x = 2\n");
  EXPECT_EQ(python_code("```py\nprint(1)\n```"), "print(1)\n");
  EXPECT_EQ(python_code("```Python3\nprint(1)\n```"), "print(1)\n");
  EXPECT_EQ(python_code("```python title=\"sol.py\"\nprint(1)\n```"), "print(1)\n");
  // A tagged block beats an untagged one, wherever it stands.
  EXPECT_EQ(python_code("```python\na = 1\n```\n```\nusage: a\n```"), "a = 1\n");
  // Other languages are not Python.
  EXPECT_EQ(python_code("```java\nclass A {}\n```\n```python\nb = 2\n```\n```text\nout\n```"), "b = 2\n");
}

TEST(CodeExtraction, TakesTheOnlyUntaggedBlock) {
  EXPECT_EQ(python_code("Here:\n```\nprint(3)\n```"), "print(3)\n");
  EXPECT_EQ(python_code("```\nprint(3)\n```\nand\n```\nprint(4)\n```"), std::nullopt) << "two: ambiguous";
  EXPECT_EQ(python_code("```bash\nls\n```"), std::nullopt);
}

TEST(CodeExtraction, FencesFollowCommonMark) {
  EXPECT_EQ(python_code("````python\ns = '```'\n```\nt = 1\n````"), "s = '```'\n```\nt = 1\n")
      << "a longer fence holds a shorter one";
  EXPECT_EQ(python_code("   ```python\nx = 1\n   ```"), "x = 1\n") << "indented up to three spaces";
  EXPECT_EQ(python_code("    ```python\nx = 1\n    ```"), std::nullopt) << "four spaces is an indented code block";
  EXPECT_EQ(python_code("Use ```x = 1``` inline."), std::nullopt);
  EXPECT_EQ(python_code("```python\r\nx = 1\r\ny = 2\r\n```\r\n"), "x = 1\ny = 2\n") << "CRLF reads as LF";
}

TEST(CodeExtraction, NoProgramIsNullopt) {
  EXPECT_EQ(python_code(""), std::nullopt);
  EXPECT_EQ(python_code("The answer is to sort the list."), std::nullopt);
  EXPECT_EQ(python_code("```python\n\n   \n```"), std::nullopt) << "a blank block";
  EXPECT_EQ(python_code("```python\ndef f():\n    return 1\n"), std::nullopt) << "cut off before the closing fence";
}

TEST(CodeExtraction, MbppDelimitersAndWholeResponse) {
  EXPECT_EQ(python_code("[BEGIN]\ndef f(): return 1\n[DONE]"), "\ndef f(): return 1\n");
  EXPECT_EQ(python_code("[BEGIN] a = 1 [DONE] then [BEGIN] b = 2 [DONE]"), " b = 2 ");
  ExtractionRules whole;
  whole.whole_response_when_unfenced = true;
  EXPECT_EQ(python_code("def f():\n    return 1\n", whole), "def f():\n    return 1\n");
  EXPECT_EQ(python_code("def f():\n    return 1\n"), std::nullopt) << "only where the suite asks for bare code";
  EXPECT_EQ(python_code("Text.\n```python\ndef f():\n", whole), std::nullopt) << "a fence turns the fallback off";
}

TEST(CodeExtraction, CppOnlyWhereAccepted) {
  const std::string response = "```python\nprint(1)\n```\nIn C++:\n```cpp\nint main() {}\n```";
  EXPECT_EQ(python_code(response), "print(1)\n");
  ExtractionRules rules;
  rules.accept_cpp = true;
  const auto code = extract_code(response, rules);
  ASSERT_TRUE(code);
  EXPECT_EQ(code->language, CodeLanguage::cpp) << "the last accepted block";
  EXPECT_EQ(code->code, "int main() {}\n");
  EXPECT_EQ(extract_code("```c++\nint main() {}\n```", rules)->language, CodeLanguage::cpp);
}

// ----------------------------------------------------------------------------------------------------
// LiveCodeBench's comparison

TEST(OutputComparison, DecimalsAreExact) {
  EXPECT_TRUE(decimal_strings_equal("1.0", "1"));
  EXPECT_TRUE(decimal_strings_equal("2.50", "2.5"));
  EXPECT_TRUE(decimal_strings_equal("1e2", "100"));
  EXPECT_TRUE(decimal_strings_equal("1.5E+3", "1500"));
  EXPECT_TRUE(decimal_strings_equal("-0", "0.000"));
  EXPECT_TRUE(decimal_strings_equal(".5", "0.5"));
  EXPECT_TRUE(decimal_strings_equal("5.", "5"));
  EXPECT_TRUE(decimal_strings_equal("+7", "7"));
  EXPECT_TRUE(decimal_strings_equal("007", "7"));
  EXPECT_TRUE(decimal_strings_equal("1_000", "1000")) << "CPython's Decimal ignores underscores";
  EXPECT_TRUE(decimal_strings_equal("Infinity", "inf"));
  EXPECT_TRUE(
      decimal_strings_equal("0.1000000000000000000000000000000000001", "1.000000000000000000000000000000000001e-1"));
  EXPECT_FALSE(decimal_strings_equal("50000000000000000", "50000000000000001")) << "np.isclose would say equal";
  EXPECT_FALSE(decimal_strings_equal("0.30000000000000004", "0.3"));
  EXPECT_FALSE(decimal_strings_equal("-1", "1"));
  EXPECT_FALSE(decimal_strings_equal("-inf", "inf"));
  EXPECT_FALSE(decimal_strings_equal("NaN", "NaN")) << "NaN equals nothing";
  EXPECT_FALSE(decimal_strings_equal("sNaN", "sNaN"));
  for (const char* not_decimal :
       {"abc", "0x10", "1e", "e5", ".", "", "-", "1.2.3", "1e5.0", "1,5", "Yes", "1e123456789012345678"}) {
    EXPECT_FALSE(decimal_strings_equal(not_decimal, not_decimal)) << not_decimal;
  }
}

TEST(OutputComparison, FollowsLiveCodeBenchLineRules) {
  EXPECT_EQ(stdout_mismatch("3\n", "3"), std::nullopt);
  EXPECT_EQ(stdout_mismatch("1 2 3   \n\n\n", "1 2 3\n"), std::nullopt) << "trailing whitespace and blank lines";
  EXPECT_EQ(stdout_mismatch("Yes\r\nNo\r\n", "Yes\nNo\n"), std::nullopt) << "CRLF";
  EXPECT_EQ(stdout_mismatch("\n\n  42", "42\n"), std::nullopt) << "leading whitespace of the whole output";
  EXPECT_EQ(stdout_mismatch("1.0 2.50", "1 2.5"), std::nullopt) << "token-wise Decimal equality";
  EXPECT_EQ(stdout_mismatch("1    2", "1 2"), std::nullopt) << "numbers split on any whitespace";
  EXPECT_EQ(stdout_mismatch("7\xc2\xa0\n", "7"), std::nullopt) << "Python strips Unicode spaces too (NBSP)";
  EXPECT_NE(stdout_mismatch("a  b", "a b"), std::nullopt) << "text lines must match exactly once stripped";
  EXPECT_NE(stdout_mismatch("yes", "Yes"), std::nullopt);
  EXPECT_NE(stdout_mismatch("50000000000000001", "50000000000000000"), std::nullopt);
  EXPECT_NE(stdout_mismatch("1 2", "1 2 3"), std::nullopt) << "token counts differ";
  EXPECT_NE(stdout_mismatch("0.333333", "0.3333333"), std::nullopt) << "no tolerance";
  EXPECT_NE(stdout_mismatch("", "0"), std::nullopt);
  const auto lines = stdout_mismatch("1\n2\n", "1\n2\n3\n");
  ASSERT_TRUE(lines);
  EXPECT_NE(lines->find("mismatched output length"), std::string::npos) << *lines;
  const auto wrong = stdout_mismatch("1\n5\n", "1\n4\n");
  ASSERT_TRUE(wrong);
  EXPECT_NE(wrong->find("output_line_idx=1: 5 != 4"), std::string::npos) << *wrong;
}

TEST(OutputComparison, DisplayTextTruncatesAndRepairsUtf8) {
  EXPECT_EQ(display_text("short"), "short");
  const std::string shown = display_text(std::string(200, 'a') + std::string(200, 'b'));
  EXPECT_EQ(shown, std::string(150, 'a') + "...(truncated) ..." + std::string(150, 'b'));
  EXPECT_EQ(display_text("ok\xff\xfe!"), "ok\xef\xbf\xbd\xef\xbf\xbd!");
  EXPECT_EQ(display_text("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd") << "a cut sequence";
  EXPECT_EQ(display_text("\xc3\xa9t\xc3\xa9", 2), "\xc3\xa9...(truncated) ...\xc3\xa9") << "cuts at code points";
}

// ----------------------------------------------------------------------------------------------------
// The driver's report

TEST(DriverReport, ReadsEventsUpToTheFirstStrangeLine) {
  const std::string text =
      "{\"event\": \"plan\", \"tests\": 3}\n"
      "{\"event\": \"test\", \"index\": 0, \"outcome\": \"passed\", \"actual\": \"1\", \"error\": \"\", \"ms\": 2}\n"
      "{\"event\": \"test\", \"index\": 1, \"outcome\": \"wrong_answer\", \"actual\": \"[2]\", \"error\": \"\"}\n"
      "not json\n"
      "{\"event\": \"done\"}\n";
  const DriverReport report = parse_driver_report(text);
  EXPECT_EQ(report.planned, 3);
  ASSERT_EQ(report.tests.size(), 2u);
  EXPECT_EQ(report.tests[0].ms, 2);
  EXPECT_EQ(report.tests[1].outcome, "wrong_answer");
  EXPECT_EQ(report.tests[1].actual, "[2]");
  EXPECT_FALSE(report.done) << "lines after a strange one are not trusted";
  EXPECT_FALSE(parse_driver_report("{\"event\": \"done\"}").done) << "a line without its newline was cut off";
  EXPECT_TRUE(parse_driver_report("{\"event\": \"compile_error\", \"error\": \"SyntaxError\"}\n").compile_error);
}

// ----------------------------------------------------------------------------------------------------
// Grading in the sandbox

class SandboxedScorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const sandbox::Capability capability = sandbox::probe();
    if (!capability.available) GTEST_SKIP() << "the sandbox cannot isolate here: " << capability.reason;
  }

  static CodeScorerOptions quick_options() {
    CodeScorerOptions options;
    options.livecodebench_test_seconds = 0.5;
    options.check_script_seconds = 0.5;
    options.assert_script_seconds = 0.5;
    options.memory_mb = 256;
    return options;
  }

  Verdict grade(const nlohmann::json& material, const std::string& response) const {
    return scorer_->grade(Submission{"", response, material});
  }

  std::unique_ptr<Scorer> scorer_ = make_code_scorer(quick_options());
};

std::string fenced(const std::string& code, const std::string& language = "python") {
  return "Here is my solution.\n```" + language + "\n" + code + "\n```\n";
}

const nlohmann::json& humaneval_material() {
  static const nlohmann::json material = {
      {"test_format", "humaneval_check"},
      {"entry_point", "add"},
      {"prompt",
       "from typing import List\n\n\ndef helper(x):\n    return x\n\n\ndef add(a: int, b: int) -> int:\n"
       "    \"\"\"Add two numbers.\"\"\"\n"},
      {"test",
       "METADATA = {}\n\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n"
       "    assert candidate(-1, 1) == 0\n"}};
  return material;
}

TEST_F(SandboxedScorerTest, HumanEvalPassesFullDefinitionsAndBodyContinuations) {
  const Verdict full = grade(humaneval_material(), fenced("def add(a, b):\n    return helper(a) + b"));
  EXPECT_EQ(full.verdict, "correct") << full.details.dump(2);
  EXPECT_TRUE(full.correct);
  EXPECT_EQ(full.score, 1.0);
  EXPECT_EQ(full.details["status"], "passed");
  EXPECT_EQ(full.details["tests_passed"], 1);
  EXPECT_EQ(full.details["tests_total"], 1);
  EXPECT_EQ(full.details["language"], "python");
  EXPECT_TRUE(full.details["first_failure"].is_null());
  EXPECT_EQ(full.extracted, "def add(a, b):\n    return helper(a) + b\n");

  EXPECT_EQ(grade(humaneval_material(), fenced("    return a + b")).verdict, "correct") << "a body continuation";
  EXPECT_EQ(grade(humaneval_material(), "def add(a, b):\n    return a + b\n").verdict, "correct")
      << "HumanEval takes an unfenced response as code";
  // The program's prints and its __main__ block do not disturb the check.
  const std::string chatty =
      "def add(a, b):\n    print('adding', a, b)\n    return a + b\n\n"
      "if __name__ == '__main__':\n    print(add(int(input()), 2))";
  EXPECT_EQ(grade(humaneval_material(), fenced(chatty)).verdict, "correct");
}

TEST_F(SandboxedScorerTest, HumanEvalFailuresSayWhy) {
  const Verdict wrong = grade(humaneval_material(), fenced("def add(a, b):\n    return a - b"));
  EXPECT_EQ(wrong.verdict, "incorrect");
  EXPECT_EQ(wrong.details["status"], "wrong_answer");
  EXPECT_EQ(wrong.details["tests_passed"], 0);
  EXPECT_EQ(wrong.details["first_failure"]["input"], "assert candidate(1, 2) == 3") << wrong.details.dump(2);
  EXPECT_EQ(wrong.details["first_failure"]["message"], "AssertionError");

  const Verdict syntax = grade(humaneval_material(), fenced("def add(a, b)\n    return a + b"));
  EXPECT_EQ(syntax.details["status"], "compile_error");
  EXPECT_NE(syntax.details["first_failure"]["actual"].get<std::string>().find("SyntaxError"), std::string::npos);

  const Verdict crash = grade(humaneval_material(), fenced("def add(a, b):\n    return a + undefined_name"));
  EXPECT_EQ(crash.details["status"], "runtime_error");
  EXPECT_NE(crash.details["first_failure"]["message"].get<std::string>().find("NameError"), std::string::npos);

  const Verdict slow = grade(humaneval_material(), fenced("def add(a, b):\n    while True:\n        pass"));
  EXPECT_EQ(slow.details["status"], "timeout") << slow.details.dump(2);

  const Verdict hungry =
      grade(humaneval_material(),
            fenced("def add(a, b):\n    blocks = []\n    while True:\n        blocks.append(bytearray(1 << 24))"));
  EXPECT_EQ(hungry.details["status"], "memory_limit") << hungry.details.dump(2);

  const Verdict silent = grade(humaneval_material(), "I cannot solve this.\n```text\nno\n```");
  EXPECT_EQ(silent.verdict, "no_answer");
  EXPECT_EQ(silent.details["status"], "no_code");
  EXPECT_FALSE(silent.correct);
}

TEST_F(SandboxedScorerTest, MbppRunsSetupCodeThenEachAssert) {
  const nlohmann::json material = {
      {"test_format", "assert_list"},
      {"task_id", 9001},
      {"test_setup_code", "OFFSET = 1\nthree = Number(3)"},
      {"test_list", {"assert f(1) == 2", "assert f(2) == 3", "assert f(three.value) == 4"}}};
  // The setup code runs after the program: it may use the program's classes, and the program its names.
  const Verdict right = grade(material,
                              "[BEGIN]\nclass Number:\n    def __init__(self, value):\n"
                              "        self.value = value\n\ndef f(x):\n    return x + OFFSET\n[DONE]");
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_total"], 3);
  const Verdict partly =
      grade(material, fenced("class Number:\n    def __init__(self, value):\n"
                             "        self.value = value\n\ndef f(x):\n    return x + 1 if x < 2 else 0"));
  EXPECT_EQ(partly.details["status"], "wrong_answer");
  EXPECT_EQ(partly.details["tests_passed"], 1);
  EXPECT_EQ(partly.details["first_failure"]["index"], 1);
  EXPECT_EQ(partly.details["first_failure"]["input"], "assert f(2) == 3");
}

TEST_F(SandboxedScorerTest, LeetCodeScriptRunsAfterDeepSeekCodersImports) {
  const nlohmann::json material = {{"test_format", "assert_script"},
                                   {"question_id", "1"},
                                   {"test",
                                    "\nmy_solution = Solution()\n\ntest_input = { \"nums\": [3, 1, 2] }\n"
                                    "assert my_solution.maxOf(**test_input) == 3\n\ntest_input = { \"nums\": [5] }\n"
                                    "assert my_solution.maxOf(**test_input) == 5\n"}};
  // List comes from DeepSeek-Coder's `from typing import *`; reduce from `from functools import *`.
  const std::string solution =
      "class Solution:\n    def maxOf(self, nums: List[int]) -> int:\n"
      "        return reduce(max, nums)";
  const Verdict right = grade(material, fenced(solution));
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_total"], 2);
  const Verdict wrong = grade(material, fenced("class Solution:\n    def maxOf(self, nums):\n        return nums[-1]"));
  EXPECT_EQ(wrong.details["tests_passed"], 0) << "my_solution = Solution() belongs to the first case";
  EXPECT_EQ(wrong.details["first_failure"]["input"], "assert my_solution.maxOf(**test_input) == 3");
}

nlohmann::json stdin_material(const std::vector<std::pair<std::string, std::string>>& tests) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& [input, output] : tests)
    cases.push_back({{"input", input}, {"output", output}, {"testtype", "stdin"}});
  return {{"test_format", "livecodebench"}, {"question_id", "sum_test"}, {"public_test_cases", cases}};
}

TEST_F(SandboxedScorerTest, LiveCodeBenchStdinStatuses) {
  const nlohmann::json material = stdin_material({{"1 2\n", "3\n"}, {"2.25 0.25\n", "2.50\n"}, {"5 5\n", "10\n"}});
  const std::string sum = "a, b = map(float, input().split())\ns = a + b\nprint(int(s) if s == int(s) else s)";
  const Verdict right = grade(material, fenced(sum));
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_passed"], 3);

  // sys, stdin and setrecursionlimit come from LiveCodeBench's prelude, unimported by the program.
  const Verdict prelude = grade(material, fenced("setrecursionlimit(10000)\n"
                                                 "a, b = map(float, stdin.readline().split())\n"
                                                 "print(f'{a + b:g}')"));
  EXPECT_EQ(prelude.verdict, "correct") << prelude.details.dump(2);

  const Verdict wrong = grade(material, fenced("a, b = map(float, input().split())\nprint(int(a + b))"));
  EXPECT_EQ(wrong.details["status"], "wrong_answer");
  EXPECT_EQ(wrong.details["tests_passed"], 1) << "stops at the first failure";
  const auto& failure = wrong.details["first_failure"];
  EXPECT_EQ(failure["index"], 1);
  EXPECT_EQ(failure["input"], "2.25 0.25\n");
  EXPECT_EQ(failure["expected"], "2.50\n");
  EXPECT_EQ(failure["actual"], "2\n");
  EXPECT_NE(failure["message"].get<std::string>().find("2 != 2.50"), std::string::npos) << failure.dump();

  EXPECT_EQ(grade(material, fenced("print(1/0)")).details["status"], "runtime_error");
  EXPECT_EQ(grade(material, fenced("print(")).details["status"], "compile_error");
  EXPECT_EQ(grade(material, fenced("while True:\n    pass")).details["status"], "timeout");
  EXPECT_EQ(grade(material, fenced("import time\ntime.sleep(30)")).details["status"], "timeout") << "wall clock";
  EXPECT_EQ(grade(material, fenced("blocks = [bytearray(1 << 24) for _ in range(64)]")).details["status"],
            "memory_limit");
  const Verdict flood = grade(material, fenced("import sys\nwhile True:\n    sys.stdout.write('y' * 65536)"));
  EXPECT_TRUE(flood.details["status"] == "output_limit" || flood.details["status"] == "timeout")
      << flood.details.dump(2);
  // A program that exits 0 with the right output passes; `exit(1)` with it does not (a real judge's rule).
  EXPECT_EQ(grade(stdin_material({{"", "ok"}}), fenced("print('ok')\nexit(0)")).verdict, "correct");
  EXPECT_EQ(grade(stdin_material({{"", "ok"}}), fenced("print('ok')\nexit(1)")).details["status"], "runtime_error");
  // A __future__ import must come first in its file: the prelude runs apart from the program.
  EXPECT_EQ(grade(stdin_material({{"", "ok"}}), fenced("from __future__ import annotations\nprint('ok')")).verdict,
            "correct");
}

TEST_F(SandboxedScorerTest, LiveCodeBenchStdinRunsCpp) {
  const nlohmann::json material = stdin_material({{"1 2\n", "3\n"}, {"40 2\n", "42\n"}});
  const Verdict right =
      grade(material,
            fenced("#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b; }", "cpp"));
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["language"], "cpp");
  const Verdict broken = grade(material, fenced("int main() { return undefined; }", "cpp"));
  EXPECT_EQ(broken.details["status"], "compile_error") << broken.details.dump(2);
}

nlohmann::json call_material(const std::string& func_name,
                             const std::vector<std::pair<std::string, std::string>>& tests) {
  nlohmann::json material = stdin_material(tests);
  for (auto& test : material["public_test_cases"]) test["testtype"] = "functional";
  material["func_name"] = func_name;
  return material;
}

TEST_F(SandboxedScorerTest, LiveCodeBenchCallBasedStatuses) {
  const nlohmann::json material =
      call_material("pair", {{"[1, 2]\n3", "[3, 9]"}, {"[]\n1", "[0, 0]"}, {"[0.5]\n2", "[0.5, 1.0]"}});
  const Verdict right = grade(material, fenced("class Solution:\n    def pair(self, xs: List[int], k: int):\n"
                                               "        print('debug output is fine')\n"
                                               "        return (sum(xs), sum(xs) * k)  # a tuple counts as a list"));
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_total"], 3);

  const Verdict function = grade(material, fenced("def pair(xs, k):\n    return [sum(xs), sum(xs) * k]"));
  EXPECT_EQ(function.verdict, "correct") << "without class Solution the module function is called";

  const Verdict wrong =
      grade(material, fenced("class Solution:\n    def pair(self, xs, k):\n        return [sum(xs), k]"));
  EXPECT_EQ(wrong.details["status"], "wrong_answer");
  EXPECT_EQ(wrong.details["tests_passed"], 0);
  EXPECT_EQ(wrong.details["first_failure"]["actual"], "[3, 3]");
  EXPECT_EQ(wrong.details["first_failure"]["expected"], "[3, 9]");
  EXPECT_EQ(wrong.details["first_failure"]["input"], "[1, 2]\n3");

  const Verdict crash = grade(
      material,
      fenced("class Solution:\n    def pair(self, xs, k):\n        return [sum(xs), sum(xs) * k] if xs else [][0]"));
  EXPECT_EQ(crash.details["status"], "runtime_error");
  EXPECT_EQ(crash.details["tests_passed"], 1);
  EXPECT_NE(crash.details["first_failure"]["message"].get<std::string>().find("IndexError"), std::string::npos);

  // The third test loops; `except Exception` does not swallow the driver's timer.
  const Verdict slow = grade(material, fenced("class Solution:\n    def pair(self, xs, k):\n"
                                              "        try:\n            while k == 2:\n                pass\n"
                                              "        except Exception:\n            pass\n"
                                              "        return [sum(xs), sum(xs) * k]"));
  EXPECT_EQ(slow.details["status"], "timeout") << slow.details.dump(2);
  EXPECT_EQ(slow.details["tests_passed"], 2);
  EXPECT_EQ(slow.details["first_failure"]["index"], 2);

  const Verdict missing = grade(material, fenced("class Solution:\n    def other(self):\n        return 1"));
  EXPECT_EQ(missing.details["status"], "runtime_error");
  const Verdict syntax = grade(material, fenced("class Solution:\n    def pair(self, xs, k)\n        return 1"));
  EXPECT_EQ(syntax.details["status"], "compile_error");
  // A program that ends its own process mid-test has not passed.
  const Verdict quits =
      grade(material, fenced("import os\nclass Solution:\n    def pair(self, xs, k):\n        os._exit(0)"));
  EXPECT_EQ(quits.details["status"], "runtime_error") << quits.details.dump(2);
}

TEST_F(SandboxedScorerTest, BrokenMaterialStopsTheRunWithTheReason) {
  const auto message = [&](const nlohmann::json& material) {
    try {
      grade(material, fenced("print(1)"));
    } catch (const UserError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  const nlohmann::json no_tests = {{"test_format", "livecodebench"}, {"question_id", "abc000_a"}};
  EXPECT_NE(message(no_tests).find("abc000_a: it carries no tests"), std::string::npos) << message(no_tests);
  nlohmann::json lost = no_tests;
  lost["private_test_cases"] = {{"sha256", "00"}};
  EXPECT_NE(message(lost).find("private tests are not in"), std::string::npos) << message(lost);
  EXPECT_NE(message({{"test_format", "quiz"}}).find("unknown test_format \"quiz\""), std::string::npos);
  EXPECT_NE(message(nlohmann::json::object()).find("no test_format"), std::string::npos);
  const nlohmann::json bad_input = call_material("f", {{"not json", "1"}});
  EXPECT_NE(message(bad_input).find("test 0 of the problem cannot be read"), std::string::npos) << message(bad_input);
  // The run's check before generation finds the same faults, without a response to grade.
  const auto scorer = make_scorer("code");
  for (const nlohmann::json& broken : {no_tests, lost, nlohmann::json{{"test_format", "quiz"}}}) {
    EXPECT_THROW(scorer->check_material(broken), UserError) << broken.dump();
  }
  EXPECT_NO_THROW(scorer->check_material(call_material("f", {{"1", "1"}})));
}

TEST_F(SandboxedScorerTest, SandboxSetupErrorIsNeverAnIncorrectVerdict) {
  // Limits the sandbox refuses make its setup fail (it reports setup_error, as for a missing namespace).
  CodeScorerOptions refused = quick_options();
  refused.memory_mb = 0;
  const auto scorer = make_code_scorer(refused);
  try {
    const Verdict verdict =
        scorer->grade(Submission{"", fenced("def add(a, b):\n    return a + b"), humaneval_material()});
    FAIL() << "graded " << verdict.verdict << " without a sandbox: " << verdict.details.dump();
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("the sandbox could not run the program"), std::string::npos)
        << error.what();
  }
}

TEST_F(SandboxedScorerTest, DriverThatCannotStartIsNeverAnIncorrectVerdict) {
  CodeScorerOptions starved = quick_options();
  starved.memory_mb = 2;  // not enough for the interpreter itself
  const auto scorer = make_code_scorer(starved);
  try {
    const Verdict verdict =
        scorer->grade(Submission{"", fenced("def add(a, b):\n    return a + b"), humaneval_material()});
    FAIL() << "graded " << verdict.verdict << " though the driver never ran: " << verdict.details.dump();
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("the test driver failed before running the program"), std::string::npos)
        << error.what();
  }
}

TEST_F(SandboxedScorerTest, GradesInParallelInInputOrder) {
  std::vector<std::string> responses;
  for (int i = 0; i < 8; ++i) responses.push_back(fenced(i % 2 == 0 ? "    return a + b" : "    return a * b"));
  std::vector<Submission> submissions;
  for (const auto& response : responses) submissions.push_back(Submission{"", response, humaneval_material()});
  const std::vector<Verdict> verdicts = grade_in_parallel(*scorer_, submissions, 3);
  ASSERT_EQ(verdicts.size(), 8u);
  for (size_t i = 0; i < verdicts.size(); ++i) EXPECT_EQ(verdicts[i].correct, i % 2 == 0) << i;
}

TEST_F(SandboxedScorerTest, GradeCommandReadsCodeLinesWithTheirMaterial) {
  TempDir dir;
  const fs::path lines = dir / "code.jsonl";
  testing::write_file(
      lines, nlohmann::json{{"pred", fenced("    return a + b")}, {"material", humaneval_material()}}.dump() + "\n" +
                 nlohmann::json{{"pred", "No idea.\n```text\n?\n```"}, {"material", humaneval_material()}}.dump() +
                 "\n");
  const testing::CommandResult graded = testing::run_rbench({"grade", "--scorer", "code", "--jsonl", lines.string()});
  ASSERT_EQ(graded.exit_code, 0) << graded.err;
  const auto newline = graded.out.find('\n');
  const auto first = nlohmann::json::parse(graded.out.substr(0, newline));
  const auto second = nlohmann::json::parse(graded.out.substr(newline + 1));
  EXPECT_EQ(first["verdict"], "correct");
  EXPECT_EQ(first["details"]["status"], "passed");
  EXPECT_EQ(second["verdict"], "no_answer");

  testing::write_file(lines, nlohmann::json{{"pred", "x"}}.dump() + "\n");
  const testing::CommandResult missing = testing::run_rbench({"grade", "--scorer", "code", "--jsonl", lines.string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("code.jsonl:1: field 'material' missing"), std::string::npos) << missing.err;
}

// ----------------------------------------------------------------------------------------------------
// Three real LiveCodeBench problems (release_v5), through the suite's loader: their statements from
// QwQ's file, their tests in code_generation_lite's form (public: the statement's examples; private:
// written here and checked by hand), the private ones in the loader's side store.

struct RealProblem {
  const char* question_id;
  const char* public_tests;  // JSON text, as code_generation_lite publishes it
  const char* private_tests;
  const char* metadata;
};

const RealProblem kRealProblems[] = {
    {"abc365_a",
     R"([{"input": "2023\n", "output": "365\n", "testtype": "stdin"},
         {"input": "1992\n", "output": "366\n", "testtype": "stdin"},
         {"input": "1800\n", "output": "365\n", "testtype": "stdin"},
         {"input": "1600\n", "output": "366\n", "testtype": "stdin"}])",
     R"([{"input": "1900\n", "output": "365\n", "testtype": "stdin"},
         {"input": "2000\n", "output": "366\n", "testtype": "stdin"},
         {"input": "1583\n", "output": "365\n", "testtype": "stdin"},
         {"input": "2020\n", "output": "366\n", "testtype": "stdin"}])",
     "{}"},
    {"3533",
     R"([{"input": "2\n[\"RIGHT\", \"DOWN\"]", "output": "3", "testtype": "functional"},
         {"input": "3\n[\"DOWN\", \"RIGHT\", \"UP\"]", "output": "1", "testtype": "functional"}])",
     R"([{"input": "3\n[\"DOWN\", \"DOWN\", \"RIGHT\", \"RIGHT\"]", "output": "8", "testtype": "functional"},
         {"input": "10\n[\"RIGHT\", \"LEFT\"]", "output": "0", "testtype": "functional"},
         {"input": "4\n[\"DOWN\", \"DOWN\", \"DOWN\", \"RIGHT\", \"UP\"]", "output": "9", "testtype": "functional"}])",
     R"({"func_name": "finalPositionOfSnake"})"},
    {"3543",
     R"([{"input": "\"10101\"\n1", "output": "12", "testtype": "functional"},
         {"input": "\"1010101\"\n2", "output": "25", "testtype": "functional"},
         {"input": "\"11111\"\n1", "output": "15", "testtype": "functional"}])",
     R"([{"input": "\"0\"\n1", "output": "1", "testtype": "functional"},
         {"input": "\"0011\"\n1", "output": "9", "testtype": "functional"},
         {"input": "\"010011010\"\n2", "output": "35", "testtype": "functional"}])",
     R"({"func_name": "countKConstraintSubstrings"})"},
};

class RealLiveCodeBenchTest : public SandboxedScorerTest {
 protected:
  void SetUp() override {
    SandboxedScorerTest::SetUp();
    if (IsSkipped()) return;
    const fs::path qwq = testing::shared_dir() / "datasets" / "livecodebench" / "livecodebench_v5_qwq.jsonl";
    if (!fs::exists(qwq)) GTEST_SKIP() << qwq << " is absent (set RBENCH_SHARED)";
    environment_.set("RBENCH_CACHE", (cache_ / "cache").string()).set("RBENCH_OFFLINE", "1");
    write_data(qwq);
    SuiteOptions options;
    options.data_dir = data_.path().string();
    suite_ = open_suite("livecodebench", options);
  }

  // QwQ's records of the three problems, and their tests in a code_generation_lite release file.
  void write_data(const fs::path& qwq) {
    const fs::path folder = data_ / "livecodebench";
    fs::create_directories(folder / "code_generation_lite");
    std::ifstream in(qwq);
    std::ofstream problems(folder / "livecodebench_v5_qwq.jsonl");
    std::ofstream release(folder / "code_generation_lite" / "test4.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const auto record = nlohmann::json::parse(line);
      for (const RealProblem& problem : kRealProblems) {
        if (record["question_id"] != problem.question_id) continue;
        problems << line << "\n";
        release << nlohmann::json{{"question_title", problem.question_id},
                                  {"question_content", "(statement)"},
                                  {"platform", "unused"},
                                  {"question_id", problem.question_id},
                                  {"contest_id", record["contest_id"]},
                                  {"contest_date", record["contest_date"]},
                                  {"starter_code", ""},
                                  {"difficulty", "easy"},
                                  {"public_test_cases", problem.public_tests},
                                  {"private_test_cases", problem.private_tests},
                                  {"metadata", problem.metadata}}
                       .dump()
                << "\n";
      }
    }
    testing::write_file(folder / "code_generation_lite" / "test3.jsonl", "");
    testing::write_file(folder / "code_generation_lite" / "test5.jsonl", "");
  }

  const Problem& problem(const std::string& id) const {
    for (const auto& candidate : suite_->problems()) {
      if (candidate.id == id) return candidate;
    }
    throw std::runtime_error("no problem " + id);
  }

  Verdict grade_problem(const std::string& id, const std::string& code) const {
    return grade(problem(id).metadata, fenced(code));
  }

  TempDir data_, cache_;
  ScopedEnvironment environment_;
  std::unique_ptr<Suite> suite_;
};

TEST_F(RealLiveCodeBenchTest, StdinProblemDaysInAYear) {
  ASSERT_EQ(suite_->problems().size(), 3u);
  const Problem& days = problem("abc365_a");
  EXPECT_FALSE(days.metadata.contains("func_name"));
  EXPECT_EQ(days.metadata["private_test_cases"].size(), 1u) << "only the hash is in the metadata";

  const Verdict right = grade_problem("abc365_a",
                                      "Y = int(input())\n"
                                      "print(366 if (Y % 4 == 0 and Y % 100 != 0) or Y % 400 == 0 else 365)");
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_total"], 8) << "public and private tests";
  EXPECT_EQ(right.details["tests_passed"], 8);

  const Verdict leap_only = grade_problem("abc365_a", "Y = int(input())\nprint(366 if Y % 4 == 0 else 365)");
  EXPECT_EQ(leap_only.details["status"], "wrong_answer");
  EXPECT_EQ(leap_only.details["tests_passed"], 2) << "1800 is the first year it gets wrong";
  EXPECT_EQ(leap_only.details["first_failure"]["input"], "1800\n");
  EXPECT_EQ(leap_only.details["first_failure"]["actual"], "366\n");

  const Verdict century =
      grade_problem("abc365_a", "Y = int(input())\nprint(366 if Y % 4 == 0 and Y % 100 != 0 else 365)");
  EXPECT_EQ(century.details["tests_passed"], 3) << "1600 (public) is a leap year";

  const Verdict cpp =
      grade(days.metadata, fenced("#include <cstdio>\nint main() { int y; std::scanf(\"%d\", &y); "
                                  "std::printf(\"%d\\n\", (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 366 : 365); }",
                                  "cpp"));
  EXPECT_EQ(cpp.verdict, "correct") << cpp.details.dump(2);
}

TEST_F(RealLiveCodeBenchTest, CallBasedProblemSnakeInAGrid) {
  const std::string snake =
      "class Solution:\n    def finalPositionOfSnake(self, n: int, commands: List[str]) -> int:\n"
      "        i = j = 0\n        for command in commands:\n"
      "            if command == 'UP': i -= 1\n            elif command == 'DOWN': i += 1\n"
      "            elif command == 'LEFT': j -= 1\n            else: j += 1\n"
      "        return ";
  const Verdict right = grade_problem("3533", snake + "i * n + j\n");
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_total"], 5);
  const Verdict transposed = grade_problem("3533", snake + "j * n + i\n");
  EXPECT_EQ(transposed.details["status"], "wrong_answer");
  EXPECT_EQ(transposed.details["tests_passed"], 1) << transposed.details.dump(2);
  EXPECT_EQ(transposed.details["first_failure"]["actual"], "3");
  EXPECT_EQ(transposed.details["first_failure"]["expected"], "1");
}

TEST_F(RealLiveCodeBenchTest, CallBasedProblemKConstraintSubstrings) {
  const std::string brute_force =
      "class Solution:\n    def countKConstraintSubstrings(self, s: str, k: int) -> int:\n"
      "        n = len(s)\n        return sum(1 for i in range(n) for j in range(i + 1, n + 1)\n"
      "                   if s[i:j].count('0') <= k or s[i:j].count('1') <= k)\n";
  const Verdict right = grade_problem("3543", brute_force);
  EXPECT_EQ(right.verdict, "correct") << right.details.dump(2);
  EXPECT_EQ(right.details["tests_total"], 6);
  const Verdict off_by_one =
      grade_problem("3543",
                    "class Solution:\n    def countKConstraintSubstrings(self, s, k):\n"
                    "        n = len(s)\n        return sum(1 for i in range(n) for j in range(i + 1, n + 1)\n"
                    "                   if s[i:j].count('0') < k or s[i:j].count('1') < k)\n");
  EXPECT_EQ(off_by_one.details["status"], "wrong_answer");
  const Verdict stuck = grade_problem("3543",
                                      "import time\nclass Solution:\n    def countKConstraintSubstrings(self, s, k):\n"
                                      "        time.sleep(0 if k == 1 else 30)\n        return 12\n");
  EXPECT_EQ(stuck.details["status"], "timeout")
      << "the second test sleeps past its wall limit: " << stuck.details.dump(2);
  EXPECT_EQ(stuck.details["tests_passed"], 1);
}

}  // namespace
}  // namespace rbench
