#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "reports/statistics.h"

namespace rbench {
namespace {

// Expected values were computed independently in Python, written out beside each test: mpmath (40 digits) for
// the distributions, math/statistics and itertools enumerations for the rest. Shared preamble:
//   from mpmath import mp, mpf, sqrt, erfinv, ncdf, betainc, findroot; mp.dps = 40
//   nq = lambda p: sqrt(2) * erfinv(2 * mpf(p) - 1)
//   def tcdf(t, df):
//       t, df = mpf(t), mpf(df); tail = betainc(df / 2, mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
//       return 1 - tail if t > 0 else tail
//   tq = lambda p, df: findroot(lambda t: tcdf(t, df) - mpf(p), float(nq(p)))

TEST(Distributions, NormalQuantileMatchesHighPrecisionInverse) {
  // float(nq(p)) for each p
  EXPECT_NEAR(normal_quantile(0.975), 1.9599639845400543, 1e-14);
  EXPECT_NEAR(normal_quantile(0.8), 0.8416212335729142, 1e-14);
  EXPECT_NEAR(normal_quantile(0.05), -1.6448536269514726, 1e-14);
  EXPECT_NEAR(normal_quantile(1e-10), -6.361340902404057, 1e-12);
  // 1 - 0.999999 in doubles is off by ~1e-17 in 1e-6, which moves the quantile by ~6e-12
  EXPECT_NEAR(normal_quantile(0.999999), 4.753424308822899, 1e-10);
  EXPECT_THROW(normal_quantile(0.0), std::invalid_argument);
  EXPECT_THROW(normal_quantile(1.0), std::invalid_argument);
  EXPECT_THROW(normal_quantile(std::nan("")), std::invalid_argument);
}

TEST(Distributions, NormalCdfMatchesHighPrecision) {
  // float(ncdf(mpf(x)))
  EXPECT_NEAR(normal_cdf(-3.0), 0.0013498980316300946, 1e-16);
  EXPECT_NEAR(normal_cdf(0.5), 0.6914624612740131, 1e-15);
  EXPECT_NEAR(normal_cdf(normal_quantile(0.975)), 0.975, 1e-15);
}

TEST(Distributions, StudentTMatchesClosedFormsAndHighPrecision) {
  // df = 1 (Cauchy): tan(pi (p - 1/2)); df = 2: (2p - 1) / sqrt(2 p (1 - p)). Others: float(tq(p, df)).
  EXPECT_NEAR(student_t_quantile(0.975, 1), std::tan(M_PI * 0.475), 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706204736174705, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 2), (2 * 0.975 - 1) / std::sqrt(2 * 0.975 * 0.025), 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.302652729749464, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 5), 2.5705818356363155, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.042272456301238, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.95, 10), 1.8124611228116765, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.025, 5), -2.5705818356363155, 1e-10);
  EXPECT_EQ(student_t_quantile(0.5, 7), 0.0);
  EXPECT_DOUBLE_EQ(student_t_quantile(0.975, kInfiniteDegreesOfFreedom), normal_quantile(0.975));
  // float(tcdf('2.0', 5)), float(tcdf('-1.5', 3))
  EXPECT_NEAR(student_t_cdf(2.0, 5), 0.9490302605850708, 1e-13);
  EXPECT_NEAR(student_t_cdf(-1.5, 3), 0.11529193262241152, 1e-13);
  EXPECT_THROW(student_t_cdf(1.0, 0.0), std::invalid_argument);
  EXPECT_THROW(student_t_quantile(0.5, -1.0), std::invalid_argument);
}

// def wilson(p, n, z):
//     c = (p + z*z/(2*n)) / (1 + z*z/n); h = z * math.sqrt(p*(1-p)/n + z*z/(4*n*n)) / (1 + z*z/n)
//     return max(0, c - h), min(1, c + h)          with z = float(nq('0.975'))
TEST(QuestionInterval, WilsonForFewQuestionsOrAtTheBounds) {
  // wilson(0.75, 10, z) = (0.44218142427854984, 0.9190521757900056): fewer than 30 questions
  const MeanInterval few = question_interval({1, 1, 1, 0.5, 1, 0.5, 1, 0, 1, 0.5});
  EXPECT_EQ(few.method, "wilson");
  EXPECT_NEAR(few.low, 0.44218142427854984, 1e-12);
  EXPECT_NEAR(few.high, 0.9190521757900056, 1e-12);
  // wilson(1.0, 100, z) = (0.9630065017930143, 1): all correct, where the normal interval collapses
  const MeanInterval perfect = question_interval(std::vector<double>(100, 1.0));
  EXPECT_EQ(perfect.method, "wilson");
  EXPECT_NEAR(perfect.low, 0.9630065017930143, 1e-12);
  EXPECT_EQ(perfect.high, 1.0);
  // wilson(0.0, 40, z) = (0, 0.08762160119728667)
  const MeanInterval none = question_interval(std::vector<double>(40, 0.0));
  EXPECT_NEAR(none.low, 0.0, 1e-15);
  EXPECT_NEAR(none.high, 0.08762160119728667, 1e-12);
  EXPECT_EQ(question_interval({}).method, "wilson");
  EXPECT_EQ(question_interval({}).high, 1.0);
}

TEST(QuestionInterval, NormalOnTheQuestionLevelStandardErrorOtherwise) {
  // 40 questions: 20 at 1, 10 at 0.5, 10 at 0. statistics.mean = 0.625,
  // statistics.stdev(x) / math.sqrt(40) = 0.0663856255679743; +- 1.9599639845400543 * SE
  std::vector<double> scores(20, 1.0);
  scores.insert(scores.end(), 10, 0.5);
  scores.insert(scores.end(), 10, 0.0);
  const MeanInterval interval = question_interval(scores);
  EXPECT_EQ(interval.method, "normal");
  EXPECT_NEAR(interval.low, 0.625 - 1.9599639845400543 * 0.0663856255679743, 1e-12);
  EXPECT_NEAR(interval.high, 0.625 + 1.9599639845400543 * 0.0663856255679743, 1e-12);
  // 40 questions at mean 0.95: the normal interval's upper end passes 1, so Wilson instead
  std::vector<double> high(38, 1.0);
  high.push_back(0.0);
  high.push_back(0.0);
  EXPECT_EQ(question_interval(high).method, "wilson");
  EXPECT_THROW(question_interval(scores, 1.0), std::invalid_argument);
}

TEST(PairedStatistics, PearsonMatchesPythonStatistics) {
  // statistics.correlation([1,1,0,0,1,0.5], [1,0,1,1,1,1]) = -0.41522739926869984
  EXPECT_NEAR(pearson_correlation({1, 1, 0, 0, 1, 0.5}, {1, 0, 1, 1, 1, 1}), -0.41522739926869984, 1e-12);
  EXPECT_EQ(pearson_correlation({1, 1, 1}, {0, 1, 0}), 0.0);  // a constant side
  EXPECT_THROW(pearson_correlation({1}, {1, 2}), std::invalid_argument);
}

TEST(PairedStatistics, ClusteredStandardErrorIsTheSandwichFormula) {
  // x = [1,0,1,1,0,0,1,0.5]; g = [0,0,1,1,1,2,2,3]; m = mean(x); G = 4; n = 8
  // sums[g] = sum of (x - m) in g;  math.sqrt(G/(G-1) * sum(s*s) / n**2) = 0.05260158822063582
  // statistics.stdev(x) / math.sqrt(8) = 0.17519122205668378 (every value its own cluster)
  const std::vector<double> x = {1, 0, 1, 1, 0, 0, 1, 0.5};
  EXPECT_NEAR(clustered_standard_error(x, {0, 0, 1, 1, 1, 2, 2, 3}), 0.05260158822063582, 1e-14);
  EXPECT_NEAR(clustered_standard_error(x, {}), 0.17519122205668378, 1e-14);
  EXPECT_NEAR(clustered_standard_error(x, {0, 1, 2, 3, 4, 5, 6, 7}), 0.17519122205668378, 1e-14);
  EXPECT_THROW(clustered_standard_error(x, {0, 0, 0, 0, 0, 0, 0, 0}), std::invalid_argument);
  EXPECT_THROW(clustered_standard_error(x, {0, 1}), std::invalid_argument);
}

TEST(PairedStatistics, McNemarExactIsTheTwoSidedBinomialTail) {
  // mcn(b, c) = min(1, 2 * sum(math.comb(b+c, i) for i in range(min(b,c)+1)) / 2**(b+c))
  EXPECT_NEAR(mcnemar_exact_p_value(3, 12), 0.03515625, 1e-13);
  EXPECT_NEAR(mcnemar_exact_p_value(0, 6), 0.03125, 1e-13);
  EXPECT_EQ(mcnemar_exact_p_value(5, 5), 1.0);
  EXPECT_NEAR(mcnemar_exact_p_value(40, 60), 0.05688793364098079, 1e-12);
  EXPECT_EQ(mcnemar_exact_p_value(0, 0), 1.0);
  EXPECT_THROW(mcnemar_exact_p_value(-1, 3), std::invalid_argument);
}

// d = [0.5,-0.25,1,1,0.25,-0.5,1,0.75]; cl = [0,0,1,1,2,3,3,4]; obs = abs(mean(d))
// Exact sign-flip p: the share of all 2^G sign patterns of the cluster sums S (or of the items) with
//   abs(sum(s*v for s, v in zip(signs, S)) / len(d)) >= obs - 1e-12:  clusters 0.0625, items 0.0859375
TEST(ResamplingTests, SignFlipConvergesToTheExactEnumeration) {
  const std::vector<double> d = {0.5, -0.25, 1, 1, 0.25, -0.5, 1, 0.75};
  EXPECT_NEAR(sign_flip_p_value(d, {0, 0, 1, 1, 2, 3, 3, 4}, 40000, 7), 0.0625, 0.006);
  EXPECT_NEAR(sign_flip_p_value(d, {}, 40000, 7), 0.0859375, 0.006);
  EXPECT_EQ(sign_flip_p_value({0, 0, 0}, {}, 1000, 1), 1.0);
  // deterministic for a seed
  EXPECT_EQ(sign_flip_p_value(d, {}, 5000, 3), sign_flip_p_value(d, {}, 5000, 3));
}

// Exact bootstrap p by enumerating every resample (itertools.product(range(G), repeat=G)):
//   items d6 = [0,-1,1,1,0,0.5], c = d6 - mean: share with abs(sum(c[i] for i in idx) / 6) >= abs(mean) - 1e-12
//     = 0.4758659122085048
//   clusters of d above (G = 5): T = cluster sums - counts * mean, N = counts;
//     share with abs(sum(T[i]) / sum(N[i])) >= abs(mean) - 1e-12 = 0.00512
TEST(ResamplingTests, PairedBootstrapConvergesToTheExactEnumeration) {
  EXPECT_NEAR(paired_bootstrap_p_value({0, -1, 1, 1, 0, 0.5}, {}, 40000, 11), 0.4758659122085048, 0.01);
  const std::vector<double> d = {0.5, -0.25, 1, 1, 0.25, -0.5, 1, 0.75};
  EXPECT_NEAR(paired_bootstrap_p_value(d, {0, 0, 1, 1, 2, 3, 3, 4}, 40000, 11), 0.00512, 0.0015);
  EXPECT_EQ(paired_bootstrap_p_value({1, 1}, {}, 0, 1), 1.0);
  EXPECT_EQ(paired_bootstrap_p_value(d, {}, 2000, 5), paired_bootstrap_p_value(d, {}, 2000, 5));
  EXPECT_THROW(paired_bootstrap_p_value(d, {0, 1}, 100, 1), std::invalid_argument);
}

TEST(MultipleTesting, HolmStepDownInInputOrder) {
  // p = [0.01, 0.04, 0.03, 0.005]: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, max(0.06, 0.04*1)=0.06
  const std::vector<double> adjusted = holm_adjusted({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.03, 1e-15);
  EXPECT_NEAR(adjusted[1], 0.06, 1e-15);
  EXPECT_NEAR(adjusted[2], 0.06, 1e-15);
  EXPECT_NEAR(adjusted[3], 0.02, 1e-15);
  EXPECT_EQ(holm_adjusted({0.6, 0.7})[0], 1.0);  // capped at 1
  EXPECT_TRUE(holm_adjusted({}).empty());
}

TEST(Power, MinimumDetectableEffect) {
  // float(nq('0.975') + nq('0.8')) = 2.8015852181129683; float(tq('0.975', 9) + tq('0.8', 9)) = 3.14556102248374
  EXPECT_NEAR(minimum_detectable_effect(0.1), 0.28015852181129683, 1e-14);
  EXPECT_NEAR(minimum_detectable_effect(0.1, 9), 0.314556102248374, 1e-11);
  EXPECT_THROW(minimum_detectable_effect(0.1, kInfiniteDegreesOfFreedom, 0.0), std::invalid_argument);
}

// delta = -0.01, SE = 0.012, margin 0.02, alpha 0.05:
//   lower = -0.01 - q * 0.012 with q = nq('0.95') or tq('0.95', 6);  p = 1 - cdf((delta + margin) / SE)
//   normal: lower -0.029738243523417675, p 0.20232838096364303
//   t, 6 df: lower -0.03331816336618364, p 0.2182833713888517
TEST(NonInferiority, LowerBoundAndOneSidedPValue) {
  const NonInferiority normal = non_inferiority_test(-0.01, 0.012, kInfiniteDegreesOfFreedom, 0.02, 0.05);
  EXPECT_NEAR(normal.lower_bound, -0.029738243523417675, 1e-14);
  EXPECT_NEAR(normal.p_value, 0.20232838096364303, 1e-13);
  EXPECT_FALSE(normal.non_inferior);  // -0.0297 < -0.02
  const NonInferiority t = non_inferiority_test(-0.01, 0.012, 6, 0.02, 0.05);
  EXPECT_NEAR(t.lower_bound, -0.03331816336618364, 1e-11);
  EXPECT_NEAR(t.p_value, 0.2182833713888517, 1e-11);
  // with a 4-point margin the same data pass, and p < alpha exactly when the bound clears the margin
  const NonInferiority wide = non_inferiority_test(-0.01, 0.012, kInfiniteDegreesOfFreedom, 0.04, 0.05);
  EXPECT_TRUE(wide.non_inferior);
  EXPECT_LT(wide.p_value, 0.05);
  // no sampling error: the sign of delta + margin decides
  EXPECT_TRUE(non_inferiority_test(0.0, 0.0, kInfiniteDegreesOfFreedom, 0.02, 0.05).non_inferior);
  EXPECT_EQ(non_inferiority_test(-0.05, 0.0, kInfiniteDegreesOfFreedom, 0.02, 0.05).p_value, 1.0);
  EXPECT_THROW(non_inferiority_test(0, 0.1, kInfiniteDegreesOfFreedom, -0.01, 0.05), std::invalid_argument);
  EXPECT_THROW(non_inferiority_test(0, 0.1, kInfiniteDegreesOfFreedom, 0.01, 1.5), std::invalid_argument);
}

}  // namespace
}  // namespace rbench
