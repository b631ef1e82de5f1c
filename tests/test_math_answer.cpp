#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "scorers/latex_expression.h"
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
  EXPECT_EQ(extract_math_answer("\\boxed{\\boxed{5}}"), "5");
}

TEST(ExtractMathAnswer, UnterminatedLastBoxIsNoAnswerNeverAnEarlierBox) {
  EXPECT_EQ(extract_math_answer("first \\boxed{5} then \\boxed{6"), std::nullopt);
  EXPECT_EQ(extract_math_answer("\\boxed{}"), std::nullopt);
  EXPECT_EQ(extract_math_answer("the answer is \\boxed"), std::nullopt);
}

TEST(ExtractMathAnswer, JoinsBoxesSeparatedOnlyBySeparators) {
  EXPECT_EQ(extract_math_answer("\\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}."), "-2, 1");
  EXPECT_EQ(extract_math_answer("$\\boxed{1}$, $\\boxed{2}$"), "1, 2");
  EXPECT_EQ(extract_math_answer("\\boxed{1} papers and then \\boxed{2}"), "2");
  EXPECT_EQ(extract_math_answer("\\boxed{15\\frac{39}{40}}, or \\boxed{\\frac{639}{40}}"), "\\frac{639}{40}");
}

TEST(ExtractMathAnswer, FallsBackToFinalAnswerPhrases) {
  EXPECT_EQ(extract_math_answer("Final Answer: The final answer is $12$. I hope it is correct."), "12");
  EXPECT_EQ(extract_math_answer("Thus the answer is 7."), "7");
  EXPECT_EQ(extract_math_answer("Answer: 19\n"), "19");
  EXPECT_EQ(extract_math_answer("Final Answer: The largest $n$ is 34."), "34");
  EXPECT_EQ(extract_math_answer("答案：每份是 (\\frac{2}{5}) 吨。"), "(\\frac{2}{5})");
  EXPECT_EQ(extract_math_answer("I cannot decide."), std::nullopt);
}

TEST(ExtractMathAnswer, FallsBackToTheLastMathSpanOrNumber) {
  EXPECT_EQ(extract_math_answer("So the pair is $(7, 6)$. <|im_start|>user"), "(7, 6)");
  EXPECT_EQ(extract_math_answer("with $d$ steps there are 12 sequences."), "12");
  EXPECT_EQ(extract_math_answer("\\frac{1}{2}"), "\\frac{1}{2}");  // a bare answer is its own answer
  EXPECT_EQ(extract_math_answer("\\text{Evelyn}"), "\\text{Evelyn}");
  EXPECT_EQ(extract_math_answer("Monday"), "Monday");
  EXPECT_EQ(extract_math_answer("AZYUK2A"), std::nullopt);  // a digit inside a word is no number
}

TEST(ExtractMathAnswer, ReadsOnlyTheTextAfterReasoning) {
  EXPECT_EQ(extract_math_answer("<think>maybe \\boxed{8}</think>So \\boxed{7}."), "7");
  EXPECT_EQ(extract_math_answer("<think>it is \\boxed{8} for sure"), std::nullopt);
  EXPECT_EQ(final_answer_text("<think>a</think>b"), "b");
  EXPECT_EQ(final_answer_text("plain"), "plain");
  EXPECT_EQ(final_answer_text("<think>unfinished"), std::nullopt);
}

TEST(NormalizeMathAnswer, StripsDressingThatNeverChangesTheValue) {
  EXPECT_EQ(normalize_math_answer("$016$"), "16");
  EXPECT_EQ(normalize_math_answer("1,234,567"), "1234567");
  EXPECT_EQ(normalize_math_answer("10,\\!000"), "10000");
  EXPECT_EQ(normalize_math_answer("14{,}916"), "14916");
  EXPECT_EQ(normalize_math_answer("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_math_answer("\\left( 1, 2 \\right)"), "( 1, 2 )");
  EXPECT_EQ(normalize_math_answer("30^\\circ"), "30");
  EXPECT_EQ(normalize_math_answer("50\\%"), "50");
  EXPECT_EQ(normalize_math_answer("\\text{(B)}"), "B");
  EXPECT_EQ(normalize_math_answer("5."), "5");
  EXPECT_EQ(normalize_math_answer("(1,234)"), "(1,234)");  // a tuple's comma is no thousands separator
  EXPECT_EQ(normalize_math_answer("32, 349"), "32, 349");  // nor a comma and a space
  EXPECT_EQ(normalize_math_answer("15\\mbox{ cm}^2"), "15");
  EXPECT_EQ(normalize_math_answer("8\\sqrt{3} \\text { square inches}"), "8\\sqrt{3}");
  EXPECT_EQ(normalize_math_answer("12 square feet"), "12");
  EXPECT_EQ(normalize_math_answer("\\$10"), "10");
  EXPECT_EQ(normalize_math_answer("12\\text{ and }13"), "12, 13");
  EXPECT_EQ(normalize_math_answer("x \\in [0, 1)"), "[0, 1)");
  EXPECT_EQ(normalize_math_answer("1, 2, 3, \\ldots"), "1, 2, 3, \\ldots");
  EXPECT_EQ(normalize_math_answer("1, 2, 3, ..."), "1, 2, 3, ...");
  EXPECT_EQ(normalize_math_answer("\\text{Evelyn}"), "Evelyn");
}

TEST(NormalizeMathAnswer, KeepsMatrixRowBreaks) {
  EXPECT_EQ(normalize_math_answer("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
            "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}");
}

TEST(LatexExpression, ParsesTheLatexOfAnswers) {
  EXPECT_EQ(latex_to_ginac_text("\\frac{1}{2}x"), "1/2*x");
  EXPECT_EQ(latex_to_ginac_text("0.25"), "1/4");  // decimals are exact
  EXPECT_EQ(latex_to_ginac_text("\\frac12"), "1/2");
  EXPECT_EQ(latex_to_ginac_text("\\sqrt3"), "sqrt(3)");
  EXPECT_EQ(latex_to_ginac_text("\\sqrt[3]{-8}"), "-2");
  EXPECT_EQ(latex_to_ginac_text("2\\pi"), "2*Pi");
  EXPECT_EQ(latex_to_ginac_text("3 \\cdot 4 \\times 5 \\div 6"), "10");
  EXPECT_EQ(latex_to_ginac_text("x_{1} + x_1"), "2*x_1");
  EXPECT_EQ(latex_to_ginac_text("-x^2"), "-x^2");
  EXPECT_EQ(latex_to_ginac_text("2^10"), "1024");
  EXPECT_EQ(latex_to_ginac_text("1\\frac{4}{5}"), "9/5");  // a mixed number, as MATH writes them
  EXPECT_EQ(latex_to_ginac_text("-4 4/9"), "-40/9");
  EXPECT_EQ(latex_to_ginac_text("2\\frac{3}{2}"), "3");  // an improper fraction multiplies
  EXPECT_EQ(latex_to_ginac_text("\\sin^{-1} x"), "asin(x)");
  EXPECT_EQ(latex_to_ginac_text("\\left(x+1\\right)^2"), "(1+x)^2");
  EXPECT_EQ(latex_to_ginac_text("|x|"), "abs(x)");
  EXPECT_EQ(latex_to_ginac_text("3+4i"), "3+4*I");
  EXPECT_EQ(latex_to_ginac_text("1.5e3"), "1500");
}

TEST(LatexExpression, RefusesWhatIsNotAnExpression) {
  EXPECT_EQ(latex_to_ginac_text("Monday"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("204_5"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("\\overline{CD}"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("12:00"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("\\frac{1}{0}"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("(1+2"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text(""), std::nullopt);
}

TEST(LatexExpression, RefusesInputThatWouldTakeLong) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(latex_to_ginac_text("10^{10^{10}}"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("2^{2^{2^{2^{2^{2}}}}}"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text("99999!"), std::nullopt);
  EXPECT_EQ(latex_to_ginac_text(std::string(200, '(') + "1" + std::string(200, ')')), std::nullopt);  // depth
  EXPECT_EQ(latex_to_ginac_text(std::string(401, '1')), std::nullopt);                                // length
  EXPECT_EQ(latex_expressions_agree("(x+y+z)^{40}", "(z+y+x)^{40}"), true);  // sampled, not expanded
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.5);
}

TEST(LatexExpression, ComparesExactlyThenNumerically) {
  EXPECT_EQ(latex_expressions_agree("e^{16}-1", "-1+exp(16)"), true);
  EXPECT_EQ(latex_expressions_agree("2\\sqrt{2}", "\\sqrt{8}"), true);
  EXPECT_EQ(latex_expressions_agree("\\frac{\\pi}{2}", "1.570796"), true);
  EXPECT_EQ(latex_expressions_agree("\\frac{\\pi}{2}", "1.5708"), false);
  EXPECT_EQ(latex_expressions_agree("\\tan^2 y + 1", "\\sec^2 y"), true);
  EXPECT_EQ(latex_expressions_agree("x^2+2x+1", "y^2+2y+1"), false);
  EXPECT_EQ(latex_expressions_agree("1000000", "1000000.5"), false);
  EXPECT_EQ(latex_expressions_agree("Monday", "Monday"), std::nullopt);
}

TEST(LatexExpression, ComparesSidesOfRelationsUpToAFactor) {
  EXPECT_EQ(latex_expressions_agree("2x-4", "x-2", Agreement::proportional), true);
  EXPECT_EQ(latex_expressions_agree("2x-4", "2-x", Agreement::proportional), true);
  EXPECT_EQ(latex_expressions_agree("2x-4", "2-x", Agreement::positively_proportional), false);
  EXPECT_EQ(latex_expressions_agree("x^2-4", "x-2", Agreement::proportional), false);
}

TEST(MathAnswersEqual, ComparesNumbersExactly) {
  EXPECT_TRUE(math_answers_equal("0.5", "\\frac{1}{2}"));
  EXPECT_TRUE(math_answers_equal("-3/4", "-0.75"));
  EXPECT_TRUE(math_answers_equal("16", "016"));
  EXPECT_TRUE(math_answers_equal("1000", "1,000"));
  EXPECT_FALSE(math_answers_equal("16", "61"));
  EXPECT_FALSE(math_answers_equal("0.333", "\\frac{1}{3}"));
  EXPECT_FALSE(math_answers_equal("3", ""));
  EXPECT_TRUE(math_answers_equal("\\boxed{5}", "5"));  // a gold stored boxed
}

TEST(MathAnswersEqual, ComparesStructures) {
  EXPECT_TRUE(math_answers_equal("(1,2)", "\\left(1, 2\\right)"));
  EXPECT_FALSE(math_answers_equal("(1,2)", "(2,1)"));
  EXPECT_FALSE(math_answers_equal("[1,2]", "(1,2)"));
  EXPECT_TRUE(math_answers_equal("\\{1,2\\}", "\\{2,1\\}"));
  EXPECT_TRUE(math_answers_equal("1, 2", "2, 1"));
  EXPECT_FALSE(math_answers_equal("1, 2", "(1, 2)"));  // solutions are not a point
  EXPECT_TRUE(math_answers_equal("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{bmatrix}1\\\\2\\end{bmatrix}"));
  EXPECT_TRUE(math_answers_equal("x>3", "3<x"));
  EXPECT_TRUE(math_answers_equal("y=2x+1", "2x+1"));
  EXPECT_TRUE(math_answers_equal("x=3", "3"));
  EXPECT_TRUE(math_answers_equal("1 \\pm \\sqrt{2}", "1-\\sqrt{2}, 1+\\sqrt{2}"));
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
  EXPECT_EQ(scorer->grade("42", "I have no idea.").verdict, "no_answer");
}

TEST(MathScorer, IsSafeToUseFromSeveralThreads) {
  const auto scorer = make_scorer("math");
  std::vector<std::thread> threads;
  std::atomic<int> correct = 0;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        correct += scorer->grade("\\frac{\\sqrt{3}}{2}", "\\boxed{\\sqrt3/2}").correct ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(correct, 200);
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
