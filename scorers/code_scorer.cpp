#include "scorers/code_scorer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.h"
#include "scorers/code_execution.h"
#include "scorers/code_extraction.h"
#include "scorers/livecodebench_tests.h"

namespace rbench {

namespace {

// What to run for one sample, once its program is known.
struct TestPlan {
  ExtractionRules rules;
  std::optional<int> tests_total;  // known before running (nullopt: a script's cases are counted as it runs)
  std::function<TestRun(const ExtractedCode&)> run;
};

std::string problem_label(const nlohmann::json& material) {
  for (const char* key : {"question_id", "task_id", "entry_point"}) {
    if (material.contains(key)) {
      const auto& value = material[key];
      return value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  return "(unnamed problem)";
}

std::string text_field(const nlohmann::json& material, const char* field) {
  const auto found = material.find(field);
  if (found == material.end() || !found->is_string()) {
    throw UserError(fmt::format("its test material lacks the text field `{}`", field));
  }
  return found->get<std::string>();
}

// HumanEval runs the prompt (its imports, helper functions and the stub) before the model's code.
// Code whose first line is indented continues the stub's body, as completions (and canonical_solution)
// do; anything else is whole definitions, which replace the stub.
std::string humaneval_program(const std::string& prompt, const std::string& code) {
  const size_t first = code.find_first_not_of('\n');
  const bool continues_body = first != std::string::npos && (code[first] == ' ' || code[first] == '\t');
  return continues_body ? prompt + code : prompt + "\n" + code;
}

nlohmann::json optional_text(const std::optional<std::string>& text) {
  return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
}

nlohmann::json failure_json(const TestFailure& failure) {
  return {{"index", failure.index},
          {"input", optional_text(failure.input)},
          {"expected", optional_text(failure.expected)},
          {"actual", optional_text(failure.actual)},
          {"stderr", failure.stderr_text},
          {"message", failure.message}};
}

Verdict verdict_of(const ExtractedCode& program, const TestRun& run) {
  Verdict verdict;
  verdict.extracted = program.code;
  verdict.correct = run.status == "passed";
  verdict.verdict = verdict.correct ? "correct" : "incorrect";
  verdict.score = verdict.correct ? 1.0 : 0.0;
  verdict.details = {{"status", run.status},
                     {"tests_passed", run.tests_passed},
                     {"tests_total", run.tests_total},
                     {"first_failure", run.first_failure ? failure_json(*run.first_failure) : nlohmann::json(nullptr)},
                     {"language", program.language == CodeLanguage::cpp ? "cpp" : "python"},
                     {"wall_ms", run.wall_ms}};
  return verdict;
}

Verdict no_code_verdict(const std::optional<int>& tests_total) {
  Verdict verdict;
  verdict.verdict = "no_answer";
  verdict.details = {{"status", "no_code"},
                     {"tests_passed", 0},
                     {"tests_total", tests_total ? nlohmann::json(*tests_total) : nlohmann::json(nullptr)},
                     {"first_failure", nullptr},
                     {"wall_ms", 0}};
  return verdict;
}

class CodeScorer final : public Scorer {
 public:
  explicit CodeScorer(const CodeScorerOptions& options) : options_(options) {}

  std::string name() const override { return "code"; }

  void check_material(const nlohmann::json& material) const override {
    try {
      plan_for(material);
    } catch (const UserError& error) {
      throw UserError(fmt::format("code scorer, problem {}: {}", problem_label(material), error.what()));
    }
  }

  Verdict grade(const Submission& submission) const override {
    try {
      const TestPlan plan = plan_for(submission.material);
      const auto program = extract_code(submission.response, plan.rules);
      if (!program) return no_code_verdict(plan.tests_total);
      return verdict_of(*program, plan.run(*program));
    } catch (const UserError& error) {
      throw UserError(fmt::format("code scorer, problem {}: {}", problem_label(submission.material), error.what()));
    }
  }

 private:
  TestPlan plan_for(const nlohmann::json& material) const {
    const auto format = material.find("test_format");
    if (format == material.end() || !format->is_string()) {
      throw UserError("its metadata has no test_format, so the code scorer cannot tell how to test it");
    }
    if (*format == "livecodebench") return livecodebench_plan(material);
    if (*format == "humaneval_check") return humaneval_plan(material);
    if (*format == "assert_list") return mbpp_plan(material);
    if (*format == "assert_script") return leetcode_plan(material);
    throw UserError(fmt::format(
        "unknown test_format {}; known: livecodebench, humaneval_check, assert_list, assert_script", format->dump()));
  }

  ExecutionLimits limits(double test_seconds) const {
    return ExecutionLimits{test_seconds, options_.sample_budget_seconds, options_.memory_mb};
  }

  TestPlan livecodebench_plan(const nlohmann::json& material) const {
    auto tests = std::make_shared<const std::vector<CodeTest>>(livecodebench_tests(material));
    const std::string func_name = material.contains("func_name") ? text_field(material, "func_name") : "";
    const ExecutionLimits test_limits = limits(options_.livecodebench_test_seconds);
    TestPlan plan;
    plan.tests_total = static_cast<int>(tests->size());
    if (!func_name.empty()) {
      plan.run = [tests, func_name, test_limits](const ExtractedCode& program) {
        return run_call_tests(program.code, func_name, *tests, test_limits);
      };
      return plan;
    }
    plan.rules.accept_cpp = true;
    plan.run = [tests, test_limits](const ExtractedCode& program) {
      return run_stdio_tests(program, *tests, test_limits);
    };
    return plan;
  }

  TestPlan humaneval_plan(const nlohmann::json& material) const {
    const std::string prompt = text_field(material, "prompt");
    const std::string test_script =
        text_field(material, "test") + "\n" + fmt::format("check({})\n", text_field(material, "entry_point"));
    const ExecutionLimits script_limits = limits(options_.check_script_seconds);
    TestPlan plan;
    plan.rules.whole_response_when_unfenced = true;
    plan.tests_total = 1;  // one check() call
    plan.run = [prompt, test_script, script_limits](const ExtractedCode& program) {
      return run_test_script(humaneval_program(prompt, program.code), "", test_script, script_limits);
    };
    return plan;
  }

  TestPlan mbpp_plan(const nlohmann::json& material) const {
    const auto list = material.find("test_list");
    if (list == material.end() || !list->is_array()) throw UserError("its test material lacks the list `test_list`");
    std::vector<std::string> asserts;
    for (const auto& item : *list) {
      if (!item.is_string()) throw UserError("`test_list` must hold strings only");
      asserts.push_back(item.get<std::string>());
    }
    // The setup code builds the tests' inputs, often from the solution's own classes (Mbpp/367's Node).
    const std::string test_script =
        fmt::format("{}\n{}\n", text_field(material, "test_setup_code"), fmt::join(asserts, "\n"));
    const ExecutionLimits script_limits = limits(options_.assert_script_seconds);
    TestPlan plan;
    plan.tests_total = static_cast<int>(asserts.size());
    plan.run = [test_script, script_limits](const ExtractedCode& program) {
      return run_test_script(program.code, "", test_script, script_limits);
    };
    return plan;
  }

  TestPlan leetcode_plan(const nlohmann::json& material) const {
    const std::string test_script = text_field(material, "test");
    const ExecutionLimits script_limits = limits(options_.assert_script_seconds);
    TestPlan plan;
    plan.run = [test_script, script_limits](const ExtractedCode& program) {
      return run_test_script(program.code, kLeetCodePrelude, test_script, script_limits);
    };
    return plan;
  }

  CodeScorerOptions options_;
};

}  // namespace

std::unique_ptr<Scorer> make_code_scorer(const CodeScorerOptions& options) {
  return std::make_unique<CodeScorer>(options);
}

std::vector<Verdict> grade_in_parallel(const Scorer& scorer, const std::vector<Submission>& submissions,
                                       unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, std::max<size_t>(1, submissions.size()));
  std::vector<Verdict> verdicts(submissions.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::exception_ptr first_error;
  const auto work = [&] {
    while (!stop) {
      const size_t index = next++;
      if (index >= submissions.size()) return;
      try {
        verdicts[index] = scorer.grade(submissions[index]);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!first_error) first_error = std::current_exception();
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back(work);
  for (auto& thread : pool) thread.join();
  if (first_error) std::rethrow_exception(first_error);
  return verdicts;
}

}  // namespace rbench
