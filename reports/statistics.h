#pragma once
// The statistics reports use, free of the store: distributions, paired tests, clustered standard errors,
// multiple-testing correction and non-inferiority. docs/statistics.md gives each formula and why.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace rbench {

inline constexpr double kInfiniteDegreesOfFreedom = std::numeric_limits<double>::infinity();

// Standard normal CDF and quantile (Wichura's AS 241, about 1e-16 relative accuracy).
double normal_cdf(double x);
double normal_quantile(double p);  // throws std::invalid_argument unless 0 < p < 1

// Student's t CDF and quantile with `degrees_of_freedom` > 0; infinite degrees of freedom is the normal.
double student_t_cdf(double t, double degrees_of_freedom);
double student_t_quantile(double p, double degrees_of_freedom);

// A 95% (or other) interval for a mean of per-question scores in [0, 1].
struct MeanInterval {
  double low = 0.0;
  double high = 0.0;
  std::string method;  // "normal" (mean +- z SE, question-level SE) or "wilson"
};
// Normal interval on the question-level SE when there are at least `kWilsonBelowQuestions` questions and
// it stays inside [0, 1]; otherwise the Wilson score interval at the mean with n = questions.
inline constexpr int kWilsonBelowQuestions = 30;
MeanInterval question_interval(const std::vector<double>& per_question, double confidence = 0.95);
// Wilson score interval for a proportion (possibly fractional: a mean of per-question scores) over n trials.
MeanInterval wilson_interval_of_proportion(double proportion, int trials, double z);

double mean_of(const std::vector<double>& values);
// Pearson correlation; 0 when either side is constant.
double pearson_correlation(const std::vector<double>& a, const std::vector<double>& b);

// Standard error of a mean with each value in a cluster (`cluster_of[i]` is value i's cluster index):
// the Liang-Zeger sandwich with the G/(G-1) small-sample factor,
//   SE^2 = G/(G-1) * sum_g (sum_{i in g} (x_i - mean))^2 / n^2.
// With every value in its own cluster (or `cluster_of` empty) this is the ordinary s / sqrt(n).
double clustered_standard_error(const std::vector<double>& values, const std::vector<int>& cluster_of);

// Two-sided exact McNemar test: discordant pairs only, b ~ Binomial(b + c, 1/2) under the null.
double mcnemar_exact_p_value(int only_a_correct, int only_b_correct);

// Resampling tests of mean(differences) = 0. `cluster_of[i]` is difference i's cluster; empty when every
// difference stands alone. Clusters move as wholes, so the tests respect the grouping the clustered SE does.
// Both are Monte Carlo with `seed`, (1 + count) / (resamples + 1), and deterministic for a given seed.
//
// Two-sided paired sign-flip (permutation) test: flip the sign of each cluster's sum of differences at random
// and count means at least as far from zero as the observed one.
double sign_flip_p_value(const std::vector<double>& differences, const std::vector<int>& cluster_of, int resamples,
                         uint64_t seed);
// Two-sided paired bootstrap test (Efron & Tibshirani 1993, 16.4): centre the differences on their mean (the
// null imposed), resample clusters with replacement, and count resampled means (sum of the drawn clusters'
// centred sums over their item count) at least as far from zero as the observed mean.
double paired_bootstrap_p_value(const std::vector<double>& differences, const std::vector<int>& cluster_of,
                                int resamples, uint64_t seed);
inline constexpr int kDefaultResamples = 10000;
inline constexpr uint64_t kDefaultResamplingSeed = 1;

// Holm's step-down adjustment: sorted ascending, p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j)),
// returned in the input order.
std::vector<double> holm_adjusted(const std::vector<double>& p_values);

// Smallest true difference a two-sided test at `alpha` detects with probability `power`:
// (q(1 - alpha/2) + q(power)) * SE, with q the t quantile at `degrees_of_freedom`.
double minimum_detectable_effect(double standard_error, double degrees_of_freedom = kInfiniteDegreesOfFreedom,
                                 double alpha = 0.05, double power = 0.80);

// One-sided paired non-inferiority test of H0: delta <= -margin against H1: delta > -margin.
struct NonInferiority {
  double lower_bound = 0.0;  // one-sided (1 - alpha) lower confidence bound of delta
  double p_value = 1.0;      // P(T >= (delta + margin) / SE) under H0's boundary
  bool non_inferior = false; // lower_bound > -margin, which is p_value < alpha
};
NonInferiority non_inferiority_test(double delta, double standard_error, double degrees_of_freedom, double margin,
                                    double alpha);

}  // namespace rbench
