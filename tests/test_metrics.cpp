#include <gtest/gtest.h>

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
  EXPECT_DOUBLE_EQ(pass_at_k(4, 2, 3), 1.0);  // n - c < k: every draw of 3 holds a correct one
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

}  // namespace
}  // namespace rbench
