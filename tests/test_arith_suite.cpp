#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "scorers/math_answer.h"
#include "suites/arith.h"
#include "suites/suite.h"

namespace rbench {
namespace {

TEST(ArithSuite, IsDeterministicAndSizesNest) {
  const auto small = open_suite("arith", {"", 7, 10});
  const auto large = open_suite("arith", {"", 7, 40});
  ASSERT_EQ(small->problems().size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(small->problems()[i].question, large->problems()[i].question);
    EXPECT_EQ(small->problems()[i].gold, large->problems()[i].gold);
  }
  EXPECT_EQ(small->data_hash(), open_suite("arith", {"", 7, 10})->data_hash());
  EXPECT_NE(small->data_hash(), large->data_hash());
}

TEST(ArithSuite, DifferentSeedsGiveDisjointProblemSets) {
  const auto evaluation = open_suite("arith", {"", kArithDefaultSeed, 200});
  const auto training = open_suite("arith", {"", 1, 200});
  std::set<std::string> questions;
  for (const auto& problem : evaluation->problems()) questions.insert(problem.question);
  int shared = 0;
  for (const auto& problem : training->problems()) shared += questions.count(problem.question);
  EXPECT_LE(shared, 2);  // a short story can recur by chance, no more
  EXPECT_GE(questions.size(), 195u);
}

// The working is a chain of "a op b = c" lines; each must be true and end at the gold.
TEST(ArithSuite, WorkedSolutionsAreCorrectArithmetic) {
  const std::regex step(R"((\d+) ([-+*/]) (\d+) = (\d+))");
  for (int i = 0; i < 300; ++i) {
    const Problem problem = generate_arith_problem(99, i);
    long long last = -1;
    for (std::sregex_iterator it(problem.solution.begin(), problem.solution.end(), step), end; it != end; ++it) {
      const long long a = std::stoll((*it)[1]), b = std::stoll((*it)[3]), c = std::stoll((*it)[4]);
      const char op = (*it)[2].str()[0];
      const long long expected = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
      ASSERT_EQ(expected, c) << problem.solution;
      if (op == '/') {
        ASSERT_EQ(a % b, 0) << problem.solution;
      }
      last = c;
    }
    ASSERT_GT(last, 0) << problem.solution;
    EXPECT_TRUE(math_answers_equal(problem.gold, std::to_string(last))) << problem.solution;
    EXPECT_NE(problem.solution.find("has " + problem.gold + " "), std::string::npos);
  }
}

TEST(ArithSuite, RendersTheR1MathPrompt) {
  const auto suite = open_suite("arith", {});
  EXPECT_EQ(suite->problems().size(), static_cast<size_t>(kArithDefaultSize));
  EXPECT_EQ(suite->scorer(), "math");
  const Prompt prompt = suite->render(suite->problems()[0], 3);
  ASSERT_EQ(prompt.messages.size(), 1u);  // no system prompt
  EXPECT_EQ(prompt.messages[0].role, "user");
  EXPECT_TRUE(prompt.messages[0].content.ends_with(
      "Please reason step by step, and put your final answer within \\boxed{}."));
  EXPECT_EQ(prompt.assistant_prefill, "<think>\n");
}

TEST(OpenSuite, NamesTheKnownSuitesForAnUnknownOne) {
  try {
    open_suite("aime2099", {});
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("aime2099"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("arith"), std::string::npos);
  }
}

}  // namespace
}  // namespace rbench
