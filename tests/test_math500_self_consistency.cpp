// The math scorer against MATH-500's own references: the answer extracted from each reference solution
// must be judged equal to the problem's `answer` field, and no answer may be judged equal to a different
// problem's answer (a grader that says "equal" too easily would pass the first check alone).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "scorers/math_answer.h"
#include "support/test_support.h"

namespace rbench {
namespace {

struct Problem {
  std::string unique_id;
  std::string solution;
  std::string answer;
};

std::vector<Problem> load_math500() {
  const auto path = testing::shared_dir() / "datasets" / "math500" / "test.jsonl";
  std::vector<Problem> problems;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line);
    problems.push_back({row.at("unique_id"), row.at("solution"), row.at("answer")});
  }
  return problems;
}

// Problems whose reference answer the scorer may not match, each with the reason. At most 1% (5) allowed.
const std::map<std::string, std::string>& known_exceptions() {
  static const std::map<std::string, std::string> exceptions = {};
  return exceptions;
}

TEST(Math500SelfConsistency, ReferenceSolutionsGradeAsTheirAnswers) {
  const auto problems = load_math500();
  if (problems.empty()) GTEST_SKIP() << "MATH-500 not found under " << testing::shared_dir() << ": set RBENCH_SHARED";
  ASSERT_EQ(problems.size(), 500u);
  ASSERT_LE(known_exceptions().size(), 5u);
  int matched = 0;
  for (const Problem& problem : problems) {
    const auto extracted = extract_math_answer(problem.solution);
    const bool equal = extracted && math_answers_equal(problem.answer, *extracted);
    const bool excepted = known_exceptions().contains(problem.unique_id);
    if (excepted) {
      EXPECT_FALSE(equal) << problem.unique_id << " now matches: remove it from known_exceptions()";
      continue;
    }
    EXPECT_TRUE(equal) << problem.unique_id << ": answer '" << problem.answer << "', extracted '"
                       << extracted.value_or("<none>") << "'";
    matched += equal ? 1 : 0;
  }
  RecordProperty("matched", matched);
}

// Neighbouring problems whose answers are one value written two ways.
const std::set<std::pair<std::string, std::string>>& equal_neighbours() {
  static const std::set<std::pair<std::string, std::string>> pairs = {
      {"test/algebra/1837.json", "test/algebra/2193.json"},  // "5" and "x=5"
  };
  return pairs;
}

// Each answer against the answers of the next few problems: those that differ after normalisation must
// differ as values too (2000 pairs of real answers of every shape).
TEST(Math500SelfConsistency, DifferentAnswersAreNotJudgedEqual) {
  constexpr std::size_t neighbours = 4;
  const auto problems = load_math500();
  if (problems.empty()) GTEST_SKIP() << "MATH-500 not found under " << testing::shared_dir() << ": set RBENCH_SHARED";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const Problem& gold = problems[i];
    for (std::size_t step = 1; step <= neighbours; ++step) {
      const Problem& other = problems[(i + step) % problems.size()];
      if (normalize_math_answer(gold.answer) == normalize_math_answer(other.answer)) continue;
      if (equal_neighbours().contains({gold.unique_id, other.unique_id})) continue;
      EXPECT_FALSE(math_answers_equal(gold.answer, other.answer))
          << gold.unique_id << " '" << gold.answer << "' judged equal to " << other.unique_id << " '" << other.answer
          << "'";
    }
  }
}

}  // namespace
}  // namespace rbench
