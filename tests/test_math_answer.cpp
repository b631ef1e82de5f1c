#include <gtest/gtest.h>

#include "scorers/math_answer.h"
#include "scorers/scorer.h"

namespace rbench {
namespace {

TEST(ExtractMathAnswer, TakesTheLastBoxWithBalancedBraces) {
  EXPECT_EQ(extract_math_answer("so \\boxed{3} or rather \\boxed{\\frac{1}{2}}."), "\\frac{1}{2}");
  EXPECT_EQ(extract_math_answer("\\fbox{42}"), "42");
  EXPECT_EQ(extract_math_answer("$\\boxed{ {a}_{1} }$"), "{a}_{1}");
  EXPECT_EQ(extract_math_answer("\\boxed 7$"), "7");
  EXPECT_EQ(extract_math_answer("\\boxed{\\{1,2\\}}"), "\\{1,2\\}");
}

TEST(ExtractMathAnswer, UnterminatedLastBoxIsNoAnswerNeverAnEarlierBox) {
  EXPECT_EQ(extract_math_answer("first \\boxed{5} then \\boxed{6"), std::nullopt);
  EXPECT_EQ(extract_math_answer("\\boxed{}"), std::nullopt);
}

TEST(ExtractMathAnswer, FallsBackToFinalAnswerPhrases) {
  EXPECT_EQ(extract_math_answer("Final Answer: The final answer is $12$. I hope it is correct."), "12");
  EXPECT_EQ(extract_math_answer("Thus the answer is 7."), "7");
  EXPECT_EQ(extract_math_answer("Answer: 19\n"), "19");
  EXPECT_EQ(extract_math_answer("I cannot decide."), std::nullopt);
}

TEST(NormalizeMathAnswer, StripsDressingThatNeverChangesTheValue) {
  EXPECT_EQ(normalize_math_answer("$016$"), "16");
  EXPECT_EQ(normalize_math_answer("1,234,567"), "1234567");
  EXPECT_EQ(normalize_math_answer("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_math_answer("\\left( 1, 2 \\right)"), "(1,2)");
  EXPECT_EQ(normalize_math_answer("30^\\circ"), "30");
  EXPECT_EQ(normalize_math_answer("50\\%"), "50");
  EXPECT_EQ(normalize_math_answer("x = 3"), "3");
  EXPECT_EQ(normalize_math_answer("\\text{(B)}"), "(B)");
  EXPECT_EQ(normalize_math_answer("5."), "5");
  EXPECT_EQ(normalize_math_answer("(1,234)"), "(1,234)");  // a tuple's comma is no thousands separator
}

TEST(MathAnswersEqual, ComparesNumbersExactly) {
  EXPECT_TRUE(math_answers_equal("0.5", "\\frac{1}{2}"));
  EXPECT_TRUE(math_answers_equal("-3/4", "-0.75"));
  EXPECT_TRUE(math_answers_equal("16", "016"));
  EXPECT_TRUE(math_answers_equal("1000", "1,000"));
  EXPECT_FALSE(math_answers_equal("16", "61"));
  EXPECT_FALSE(math_answers_equal("0.333", "\\frac{1}{3}"));
  EXPECT_FALSE(math_answers_equal("3", ""));
}

TEST(MathScorer, GradesResponsesWithVerdicts) {
  const auto scorer = make_scorer("math");
  const Verdict right = scorer->grade("42", "The total is \\boxed{42}.");
  EXPECT_TRUE(right.correct);
  EXPECT_EQ(right.verdict, "correct");
  EXPECT_EQ(right.extracted, "42");
  EXPECT_DOUBLE_EQ(right.score, 1.0);
  const Verdict wrong = scorer->grade("42", "\\boxed{41}");
  EXPECT_EQ(wrong.verdict, "incorrect");
  EXPECT_EQ(scorer->grade("42", "no idea").verdict, "no_answer");
}

TEST(MakeScorer, RejectsUnknownNamesClearly) {
  try {
    make_scorer("nonsense");
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("nonsense"), std::string::npos);
  }
}

}  // namespace
}  // namespace rbench
