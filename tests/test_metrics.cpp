#include <gtest/gtest.h>

#include <stdexcept>

#include "scorers/math_answer.h"
#include "scorers/metrics.h"

namespace rbench {
namespace {

// Expected values computed with Python:
//   from math import comb; 1 - comb(n-c, k) / comb(n, k)
TEST(PassAtK, MatchesTheCombinatorialFormula) {
  EXPECT_NEAR(pass_at_k(10, 3, 5), 0.9166666666666666, 1e-12);   // 1 - C(7,5)/C(10,5)
  EXPECT_NEAR(pass_at_k(64, 4, 4), 0.23252530784921055, 1e-12);  // 1 - C(60,4)/C(64,4)
  EXPECT_DOUBLE_EQ(pass_at_k(10, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 10, 1), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(4, 2, 3), 1.0);          // n - c < k: every draw of 3 holds a correct one
  EXPECT_NEAR(pass_at_k(8, 3, 1), 3.0 / 8.0, 1e-12);  // pass@1 is the mean
}

// statistics.mean([1,0,0.5,0.25,1]) = 0.55; statistics.stdev(...)/sqrt(5) = 0.2
TEST(QuestionMean, IsTheMeanWithTheStandardErrorOverQuestions) {
  const MeanWithError result = question_mean({1, 0, 0.5, 0.25, 1});
  EXPECT_NEAR(result.mean, 0.55, 1e-12);
  EXPECT_NEAR(result.standard_error, 0.2, 1e-12);
  EXPECT_EQ(result.count, 5);
  EXPECT_EQ(question_mean({}).count, 0);
  EXPECT_DOUBLE_EQ(question_mean({0.7}).standard_error, 0.0);
}

// Wilson: p=s/n, d=1+z^2/n, centre=(p+z^2/2n)/d, half=z*sqrt(p(1-p)/n+z^2/4n^2)/d, z=1.96
TEST(WilsonInterval, MatchesTheClosedForm) {
  const Interval middle = wilson_interval(7, 20);
  EXPECT_NEAR(middle.low, 0.18118954786794464, 1e-12);
  EXPECT_NEAR(middle.high, 0.5671494897805354, 1e-12);
  const Interval none = wilson_interval(0, 10);
  EXPECT_NEAR(none.low, 0.0, 1e-12);
  EXPECT_NEAR(none.high, 0.2775401687666166, 1e-12);
  const Interval all = wilson_interval(10, 10);
  EXPECT_NEAR(all.low, 0.7224598312333834, 1e-12);
  EXPECT_NEAR(all.high, 1.0, 1e-12);
}

// Expected values computed with Python, following the authors' code (open-compass/GPassK,
// huggingface/evaluate metrics/gpassk):
//   from math import comb, ceil
//   def g(n, c, k, t):
//       m = max(ceil(t * k), 1)
//       return sum(comb(c, j) * comb(n - c, k - j) for j in range(m, min(c, k) + 1)) / comb(n, k)
//   def mg(n, c, k):
//       l = ceil(k * 0.5)
//       return 2 * sum(g(n, c, k, i / k) for i in range(l + 1, k + 1)) / k
// The n=16, c=8 values are also the worked example of the evaluate metric card.
TEST(GPassAtK, MatchesTheHypergeometricTail) {
  EXPECT_NEAR(g_pass_at_k(16, 8, 4, 0.25), 0.9615384615384616, 1e-12);
  EXPECT_NEAR(g_pass_at_k(16, 8, 4, 0.5), 0.7153846153846154, 1e-12);
  EXPECT_NEAR(g_pass_at_k(16, 8, 4, 0.75), 0.2846153846153846, 1e-12);
  EXPECT_NEAR(g_pass_at_k(16, 8, 4, 1.0), 0.038461538461538464, 1e-12);
  EXPECT_NEAR(g_pass_at_k(16, 8, 8, 0.5), 0.6903651903651904, 1e-12);
  EXPECT_NEAR(g_pass_at_k(16, 8, 8, 1.0), 7.77000777000777e-05, 1e-15);
  EXPECT_NEAR(g_pass_at_k(64, 40, 16, 0.75), 0.18659057318590627, 1e-12);
  EXPECT_DOUBLE_EQ(g_pass_at_k(10, 3, 5, 0.7), 0.0);  // needs 4 correct of 5, only 3 exist
  EXPECT_DOUBLE_EQ(g_pass_at_k(8, 8, 8, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(g_pass_at_k(8, 0, 4, 0.5), 0.0);
}

TEST(GPassAtK, AtTauZeroIsPassAtK) {
  EXPECT_NEAR(g_pass_at_k(10, 3, 5, 0.0), pass_at_k(10, 3, 5), 1e-12);  // both 0.9166666666666666
  EXPECT_NEAR(g_pass_at_k(64, 4, 4, 0.0), pass_at_k(64, 4, 4), 1e-12);
}

TEST(GPassAtK, ThresholdsThatAreExactFractionsAreNotRoundedUp) {
  // 0.3 * 10 is 3.0000000000000004 in floating point; the threshold is 3 correct, not 4.
  EXPECT_NEAR(g_pass_at_k(20, 6, 10, 0.3), g_pass_at_k(20, 6, 10, 0.25), 1e-15);
}

TEST(GPassAtK, RejectsImpossibleDraws) {
  EXPECT_THROW(g_pass_at_k(4, 2, 5, 0.5), std::invalid_argument);
  EXPECT_THROW(g_pass_at_k(4, 5, 2, 0.5), std::invalid_argument);
  EXPECT_THROW(g_pass_at_k(4, 2, 2, 1.5), std::invalid_argument);
  EXPECT_THROW(mg_pass_at_k(4, 2, 0), std::invalid_argument);
}

TEST(MGPassAtK, IsTheAreaUnderGPassAboveOneHalf) {
  EXPECT_NEAR(mg_pass_at_k(16, 8, 4), 0.16153846153846152, 1e-12);
  EXPECT_NEAR(mg_pass_at_k(16, 8, 8), 0.09518259518259518, 1e-12);
  EXPECT_NEAR(mg_pass_at_k(64, 40, 16), 0.2616373983295765, 1e-12);
  EXPECT_NEAR(mg_pass_at_k(5, 5, 5), 0.8, 1e-12);  // thresholds 4/5 and 5/5 only, as the authors sum
  EXPECT_DOUBLE_EQ(mg_pass_at_k(32, 3, 8), 0.0);
}

bool same_string(const std::string& a, const std::string& b) { return a == b; }

TEST(MajorityVote, TakesTheLargestClassAndBreaksTiesByFirstOccurrence) {
  const MajorityVote vote = majority_vote({"Paris", "London", "Paris", "Berlin"}, same_string);
  EXPECT_EQ(vote.answer, "Paris");
  EXPECT_EQ(vote.count, 2);
  EXPECT_FALSE(vote.tied);
  // lighteval's maj@k test "No Majority": every answer once, the first wins.
  const MajorityVote tie = majority_vote({"Paris", "London", "Berlin"}, same_string);
  EXPECT_EQ(tie.answer, "Paris");
  EXPECT_EQ(tie.count, 1);
  EXPECT_TRUE(tie.tied);
  const MajorityVote later = majority_vote({"B", "A", "A", "B"}, same_string);
  EXPECT_EQ(later.answer, "B");
  EXPECT_TRUE(later.tied);
}

TEST(MajorityVote, EmptyExtractionsDoNotVote) {
  const MajorityVote vote = majority_vote({"", "", "7", ""}, same_string);
  EXPECT_EQ(vote.answer, "7");
  EXPECT_EQ(vote.count, 1);
  const MajorityVote none = majority_vote({"", ""}, same_string);
  EXPECT_EQ(none.answer, std::nullopt);
  EXPECT_EQ(none.count, 0);
}

TEST(MajorityVote, GroupsMathAnswersByEquivalence) {
  const auto equal = [](const std::string& a, const std::string& b) { return math_answers_equal(a, b); };
  const MajorityVote vote = majority_vote({"\\frac{1}{3}", "0.5", "\\frac12", "1/2", "\\dfrac{1}{3}"}, equal);
  EXPECT_EQ(vote.answer, "0.5");  // 0.5, \frac12 and 1/2 are one class of three
  EXPECT_EQ(vote.count, 3);
  EXPECT_FALSE(vote.tied);
}

}  // namespace
}  // namespace rbench
