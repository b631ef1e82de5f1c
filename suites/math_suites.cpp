// MATH-500, AIME 2024 and AIME 2025: the DeepSeek-R1 math prompt, graded by the "math" scorer against the
// answer string (AIME: the integer without zero padding).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <regex>

#include "common/error.h"
#include "suites/data_files.h"
#include "suites/data_suites.h"
#include "suites/jsonl.h"
#include "suites/loaded_suite.h"

namespace rbench {

namespace {

SuiteSpec math_spec(std::string name) {
  SuiteSpec spec;
  spec.name = std::move(name);
  spec.scorer = "math";
  spec.prompt_template = std::string("{question}\n") + kMathInstruction;
  spec.render = [](const Problem& problem, int) { return render_math_prompt(problem); };
  return spec;
}

// AIME answers are integers 0-999; files store them as ints or zero-padded strings ("025").
std::string aime_answer(const JsonRecord& record) {
  const auto& value = record.at("answer");
  int64_t answer = -1;
  if (value.is_number_integer()) {
    answer = value.get<int64_t>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (!text.empty() && text.size() <= 3 && text.find_first_not_of("0123456789") == std::string::npos) {
      answer = std::stoll(text);
    }
  }
  if (answer < 0 || answer > 999) record.fail("answer", "must be an integer from 0 to 999");
  return std::to_string(answer);
}

// The exam dates (MAA), the day each problem became public.
std::string aime_release_date(int year, std::string_view exam) {
  static const std::array<std::tuple<int, std::string_view, std::string_view>, 4> kDates = {{
      {2024, "I", "2024-02-01"},
      {2024, "II", "2024-02-07"},
      {2025, "I", "2025-02-06"},
      {2025, "II", "2025-02-12"},
  }};
  for (const auto& [y, e, date] : kDates) {
    if (y == year && e == exam) return std::string(date);
  }
  return "";
}

Problem aime_problem(int year, const std::string& exam, int number, std::string question, std::string gold) {
  Problem problem;
  problem.id = fmt::format("{}-{}-{}", year, exam, number);
  problem.question = std::move(question);
  problem.gold = std::move(gold);
  const std::string contest = fmt::format("AIME {} {}", year, exam);
  problem.metadata = {{"contest", contest}, {"year", year},       {"exam", exam},
                      {"number", number},   {"cluster", contest}, {"release_date", aime_release_date(year, exam)}};
  return problem;
}

}  // namespace

std::unique_ptr<Suite> open_math500(const SuiteOptions& options) {
  const DatasetFile dataset{"math500", "math500", "test.jsonl", HubFile("HuggingFaceH4/MATH-500", "test.jsonl"),
                            "openai/prm800k, prm800k/math_splits/test.jsonl"};
  const auto path = locate_dataset_file(options, dataset);
  std::vector<Problem> problems;
  read_jsonl(path, [&](const JsonRecord& record) {
    Problem problem;
    problem.id = record.string("unique_id");
    problem.question = record.string("problem");
    problem.gold = record.string("answer");
    problem.solution = record.string("solution");
    const std::string subject = record.string("subject");
    problem.metadata = {{"subject", subject},
                        {"level", record.integer("level")},
                        {"cluster", subject},
                        {"release_date", "2021-03-05"}};  // the MATH paper, arXiv:2103.03874
    problems.push_back(std::move(problem));
  });
  return make_loaded_suite(math_spec("math500"), std::move(problems), path.string());
}

// Qwen2.5-Math's copy: `id`, `problem`, `solution`, `answer` ("025"), and the AoPS wiki `url`, which
// names the exam and problem number.
std::unique_ptr<Suite> open_aime2024(const SuiteOptions& options) {
  const DatasetFile dataset{"aime2024", "aime2024", "test.jsonl", std::nullopt,
                            "QwenLM/Qwen2.5-Math, evaluation/data/aime24/test.jsonl"};
  const auto path = locate_dataset_file(options, dataset);
  static const std::regex kUrl(R"((\d{4})_AIME_(I|II)_Problems/Problem_(\d+))");
  std::vector<Problem> problems;
  read_jsonl(path, [&](const JsonRecord& record) {
    const std::string url = record.string("url");
    std::smatch match;
    if (!std::regex_search(url, match, kUrl)) record.fail("url", "does not name an AIME exam and problem");
    Problem problem =
        aime_problem(std::stoi(match[1]), match[2], std::stoi(match[3]), record.string("problem"), aime_answer(record));
    problem.solution = record.string("solution");
    problem.metadata["url"] = url;
    problems.push_back(std::move(problem));
  });
  // The file is in string order of ids ("Problem_1", "Problem_10", ...); exam order reads better and
  // makes --limit a meaningful prefix.
  std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
    return std::pair(a.metadata["exam"].get<std::string>(), a.metadata["number"].get<int>()) <
           std::pair(b.metadata["exam"].get<std::string>(), b.metadata["number"].get<int>());
  });
  return make_loaded_suite(math_spec("aime2024"), std::move(problems), path.string());
}

// QwQ's copy: `prompt` (the problem plus the R1 instruction, which is stripped here) and `answer`,
// problems 1-15 of AIME I then 1-15 of AIME II. Copies with a bare `problem` field read as well.
std::unique_ptr<Suite> open_aime2025(const SuiteOptions& options) {
  const DatasetFile dataset{"aime2025", "aime2025", "test.jsonl", std::nullopt, "QwenLM/QwQ, eval/data/aime25.jsonl"};
  const auto path = locate_dataset_file(options, dataset);
  constexpr int kPerExam = 15;
  const std::string suffix = std::string("\n") + kMathInstruction;
  std::vector<Problem> problems;
  read_jsonl(path, [&](const JsonRecord& record) {
    const int index = static_cast<int>(problems.size());
    if (index >= 2 * kPerExam) {
      throw UserError(fmt::format("{}: a 31st record; AIME 2025 has 30 problems", record.where().str()));
    }
    std::string question = record.has("problem") ? record.string("problem") : record.string("prompt");
    if (question.ends_with(suffix)) question.resize(question.size() - suffix.size());
    problems.push_back(aime_problem(2025, index < kPerExam ? "I" : "II", index % kPerExam + 1, std::move(question),
                                    aime_answer(record)));
  });
  if (problems.size() != 2 * kPerExam) {
    throw UserError(fmt::format("{}: {} records; AIME 2025 has 30 (problems 1-15 of AIME I, then AIME II)",
                                path.string(), problems.size()));
  }
  return make_loaded_suite(math_spec("aime2025"), std::move(problems), path.string());
}

}  // namespace rbench
