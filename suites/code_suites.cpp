// HumanEval, MBPP and DeepSeek-Coder's LeetCode contest set. Graded by the "code" scorer, which runs the
// extracted program against the test material kept in Problem::metadata; `metadata.test_format` says
// how that material is run:
//   "humaneval_check"  `test` defines check(candidate): run prompt + program + test + "check(<entry_point>)"
//   "assert_list"      `test_setup_code`, then each assert of `test_list` (MBPP)
//   "assert_script"    `test` builds `my_solution = Solution()` and asserts on `<func_name>` (LeetCode)
// Gold is empty: code has no answer string.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <regex>

#include "common/error.h"
#include "suites/data_files.h"
#include "suites/data_suites.h"
#include "suites/jsonl.h"
#include "suites/loaded_suite.h"

namespace rbench {

namespace {

SuiteSpec code_spec(std::string name, std::string prompt_template, std::function<std::string(const Problem&)> content) {
  SuiteSpec spec;
  spec.name = std::move(name);
  spec.scorer = "code";
  spec.prompt_template = std::move(prompt_template);
  spec.render = [content = std::move(content)](const Problem& problem, int) {
    return render_user_prompt(content(problem), "");
  };
  return spec;
}

std::string utc_date(int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &parts);
  return text;
}

std::string without_carriage_returns(std::string text) {
  std::erase(text, '\r');
  return text;
}

// simple-evals humaneval_eval.py
constexpr const char* kHumanEvalInstruction =
    "Read the following function signature and docstring, and fully implement the function described. Your "
    "response should only contain the code for this function.\n";

// google-research mbpp/README.md: the task and its tests; the exemplars add their code in [BEGIN]/[DONE].
constexpr const char* kMbppTask =
    "You are an expert Python programmer, and here is your task: {} Your code should pass these tests:\n\n{}";
constexpr int kMbppFirstTest = 11, kMbppLastTest = 510;
constexpr std::array<int64_t, 3> kMbppExemplars = {2, 3, 4};

std::string mbpp_task(const std::string& text, const std::vector<std::string>& tests) {
  return fmt::format(kMbppTask, text, fmt::join(tests, "\n"));
}

std::vector<std::string> string_list(const JsonRecord& record, std::string_view field) {
  std::vector<std::string> items;
  for (const auto& item : record.array(field)) {
    if (!item.is_string()) record.fail(field, "must hold strings only");
    items.push_back(item.get<std::string>());
  }
  return items;
}

}  // namespace

std::unique_ptr<Suite> open_humaneval(const SuiteOptions& options) {
  const DatasetFile dataset{"humaneval", "humaneval", "HumanEval.jsonl", std::nullopt,
                            "openai/human-eval, data/HumanEval.jsonl.gz (gunzipped)"};
  const auto path = locate_dataset_file(options, dataset);
  std::vector<Problem> problems;
  read_jsonl(path, [&](const JsonRecord& record) {
    Problem problem;
    problem.id = record.string("task_id");
    problem.question = record.string("prompt");
    problem.solution = record.string("canonical_solution");
    // The scorer runs the prompt (imports, helpers, the stub) before the model's code, as HumanEval does.
    problem.metadata = {{"prompt", problem.question},
                        {"entry_point", record.string("entry_point")},
                        {"test", record.string("test")},
                        {"test_format", "humaneval_check"},
                        {"release_date", "2021-07-07"}};  // the Codex paper, arXiv:2107.03374
    problems.push_back(std::move(problem));
  });
  auto spec = code_spec("humaneval", std::string(kHumanEvalInstruction) + "{prompt}",
                        [](const Problem& problem) { return kHumanEvalInstruction + problem.question; });
  return make_loaded_suite(std::move(spec), std::move(problems), path.string());
}

// The test split (task_ids 11-510), 3-shot with tasks 2, 3 and 4, as the MBPP paper and README define.
std::unique_ptr<Suite> open_mbpp(const SuiteOptions& options) {
  const DatasetFile dataset{"mbpp", "mbpp", "mbpp.jsonl", std::nullopt,
                            "google-research/google-research, mbpp/mbpp.jsonl"};
  const auto path = locate_dataset_file(options, dataset);
  std::vector<Problem> problems;
  std::map<int64_t, std::string> exemplars;
  read_jsonl(path, [&](const JsonRecord& record) {
    const int64_t task_id = record.integer("task_id");
    const bool exemplar = std::find(kMbppExemplars.begin(), kMbppExemplars.end(), task_id) != kMbppExemplars.end();
    if (!exemplar && (task_id < kMbppFirstTest || task_id > kMbppLastTest)) return;
    const std::vector<std::string> tests = string_list(record, "test_list");
    if (exemplar) {
      exemplars[task_id] = mbpp_task(record.string("text"), tests) + "\n[BEGIN]\n" +
                           without_carriage_returns(record.string("code")) + "\n[DONE]";
      return;
    }
    Problem problem;
    problem.id = fmt::format("Mbpp/{}", task_id);
    problem.question = record.string("text");
    problem.solution = record.string("code");
    problem.metadata = {{"task_id", task_id},
                        {"test_list", tests},
                        {"test_setup_code", record.string("test_setup_code")},
                        {"challenge_test_list", string_list(record, "challenge_test_list")},
                        {"test_format", "assert_list"},
                        {"release_date", "2021-08-16"}};  // the MBPP paper, arXiv:2108.07732
    problems.push_back(std::move(problem));
  });
  std::string shots;
  for (const int64_t id : kMbppExemplars) {
    if (!exemplars.contains(id)) {
      throw UserError(fmt::format("{}: MBPP task {} (a few-shot exemplar) is missing", path.string(), id));
    }
    shots += exemplars[id] + "\n\n";
  }
  const std::string task_template = fmt::format(kMbppTask, "{text}", "{tests}");
  auto spec = code_spec(
      "mbpp", "[tasks 2, 3, 4 as: " + task_template + "\n[BEGIN]\n{code}\n[DONE]]\n\n" + task_template,
      [shots](const Problem& problem) {
        return shots + mbpp_task(problem.question, problem.metadata.at("test_list").get<std::vector<std::string>>());
      });
  return make_loaded_suite(std::move(spec), std::move(problems), path.string());
}

// DeepSeek-Coder's LeetCode set: the model sees `prompt_sft` (statement, then "Please complete the code
// below..." and the class stub), as DeepSeek-Coder's Evaluation/LeetCode does.
std::unique_ptr<Suite> open_leetcode_contest(const SuiteOptions& options) {
  const DatasetFile dataset{"leetcode_contest", "leetcode_contest", "20240121-Jul.jsonl", std::nullopt,
                            "deepseek-ai/DeepSeek-Coder, Evaluation/LeetCode/data/20240121-Jul.jsonl"};
  const auto path = locate_dataset_file(options, dataset);
  static const std::regex kMethodCall(R"(my_solution\.(\w+)\()");
  std::vector<Problem> problems;
  read_jsonl(path, [&](const JsonRecord& record) {
    Problem problem;
    problem.id = record.string("task_id");
    problem.question = record.string("prompt_sft");
    const JsonRecord meta(record.object("meta"), {record.where().source + " (meta)", record.where().line});
    const std::string slug = meta.string("titleSlug");
    if (!problem.id.ends_with("-" + slug)) record.fail("task_id", "does not end with the problem's titleSlug");
    const std::string contest = problem.id.substr(0, problem.id.size() - slug.size() - 1);
    const std::string test = record.string("test");
    std::smatch call;
    if (!std::regex_search(test, call, kMethodCall)) record.fail("test", "calls no my_solution.<method>(...)");
    problem.metadata = {{"test", test},
                        {"func_name", call[1].str()},
                        {"test_format", "assert_script"},
                        {"contest", contest},
                        {"cluster", contest},
                        {"difficulty", meta.string("difficulty")},
                        {"question_id", meta.string("questionFrontendId")},
                        {"title", meta.string("title")},
                        {"url", record.string("url")},
                        {"release_date", utc_date(record.integer("start_time"))}};
    problems.push_back(std::move(problem));
  });
  auto spec = code_spec("leetcode_contest", "{prompt_sft}", [](const Problem& problem) { return problem.question; });
  return make_loaded_suite(std::move(spec), std::move(problems), path.string());
}

}  // namespace rbench
