#include "reports/statistics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

#include "scorers/metrics.h"

namespace rbench {

namespace {

// Continued fraction of the regularized incomplete beta function (modified Lentz; Numerical Recipes 6.4).
double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  constexpr double epsilon = 1e-15;
  const auto guard = [](double v) { return std::fabs(v) < tiny ? tiny : v; };
  double c = 1.0;
  double d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));
    d = 1.0 / guard(1.0 + aa * d);
    c = guard(1.0 + aa / c);
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
    d = 1.0 / guard(1.0 + aa * d);
    c = guard(1.0 + aa / c);
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1.0) < epsilon) break;
  }
  return h;
}

// I_x(a, b), the regularized incomplete beta function.
double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  // The fraction converges fast on this side of the mean; use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
  if (x < (a + 1.0) / (a + b + 2.0)) return front * incomplete_beta_fraction(a, b, x) / a;
  return 1.0 - front * incomplete_beta_fraction(b, a, 1.0 - x) / b;
}

void check_probability(double p, const char* what) {
  if (!(p > 0.0 && p < 1.0)) throw std::invalid_argument(std::string(what) + " must lie strictly between 0 and 1");
}

// Uniform index in [0, n) from one 64-bit draw: the same on every platform, unlike
// std::uniform_int_distribution, so a seed gives the same p-value everywhere. The modulo bias is below n / 2^64.
size_t uniform_index(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

// Per-cluster sums and item counts, clusters in order of first appearance; singletons without `cluster_of`.
struct ClusterSums {
  std::vector<double> sums;
  std::vector<double> counts;
};

ClusterSums sum_by_cluster(const std::vector<double>& values, const std::vector<int>& cluster_of) {
  if (cluster_of.empty()) return {values, std::vector<double>(values.size(), 1.0)};
  if (cluster_of.size() != values.size()) throw std::invalid_argument("one cluster index per value is needed");
  ClusterSums clusters;
  std::map<int, size_t> position;
  for (size_t i = 0; i < values.size(); ++i) {
    const auto [it, added] = position.emplace(cluster_of[i], clusters.sums.size());
    if (added) {
      clusters.sums.push_back(0.0);
      clusters.counts.push_back(0.0);
    }
    clusters.sums[it->second] += values[i];
    clusters.counts[it->second] += 1.0;
  }
  return clusters;
}

// Tolerance for "at least as extreme": sums of the same values in another order differ in the last bits.
constexpr double kTieTolerance = 1e-12;

}  // namespace

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double normal_quantile(double p) {
  check_probability(p, "normal_quantile: p");
  // Wichura, "Algorithm AS 241: The percentage points of the normal distribution" (1988), PPND16.
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q *
           (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
                45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
             133.14166789178437745) * r + 3.387132872796366608) /
           (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r +
                21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
             42.313330701600911252) * r + 1.0);
  }
  double r = std::sqrt(-std::log(q < 0 ? p : 1.0 - p));
  double value;
  if (r <= 5.0) {
    r -= 1.6;
    value = (((((((r * 7.7454501427834140764e-4 + .0227238449892691845833) * r + .24178072517745061177) * r +
                 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
              4.6303378461565452959) * r + 1.42343711074968357734) /
            (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + .0151986665636164571966) * r +
                 .14810397642748007459) * r + .68976733498510000455) * r + 1.6763848301838038494) * r +
              2.05319162663775882187) * r + 1.0);
  } else {
    r -= 5.0;
    value = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + .0012426609473880784386) * r +
                 .026532189526576123093) * r + .29656057182850489123) * r + 1.7848265399172913358) * r +
              5.4637849111641143699) * r + 6.6579046435011037772) /
            (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
                 7.868691311456132591e-4) * r + .0148753612908506148525) * r + .13692988092273580531) * r +
              .59983220655588793769) * r + 1.0);
  }
  return q < 0 ? -value : value;
}

double student_t_cdf(double t, double degrees_of_freedom) {
  if (!(degrees_of_freedom > 0.0)) throw std::invalid_argument("student_t_cdf: degrees of freedom must be positive");
  if (std::isinf(degrees_of_freedom)) return normal_cdf(t);
  // P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2)
  const double df = degrees_of_freedom;
  const double tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
  return t > 0 ? 1.0 - tail : tail;
}

double student_t_quantile(double p, double degrees_of_freedom) {
  check_probability(p, "student_t_quantile: p");
  if (!(degrees_of_freedom > 0.0)) {
    throw std::invalid_argument("student_t_quantile: degrees of freedom must be positive");
  }
  if (std::isinf(degrees_of_freedom)) return normal_quantile(p);
  if (p == 0.5) return 0.0;
  // The t quantile lies beyond the normal one; widen a bracket from there, then bisect the CDF.
  double low = std::min(0.0, normal_quantile(p)), high = std::max(0.0, normal_quantile(p));
  while (student_t_cdf(low, degrees_of_freedom) > p) low = 2.0 * low - 1.0;
  while (student_t_cdf(high, degrees_of_freedom) < p) high = 2.0 * high + 1.0;
  for (int i = 0; i < 200 && high - low > 1e-14 * std::max(1.0, std::fabs(high)); ++i) {
    const double middle = 0.5 * (low + high);
    (student_t_cdf(middle, degrees_of_freedom) < p ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

MeanInterval wilson_interval_of_proportion(double proportion, int trials, double z) {
  if (trials <= 0) return {0.0, 1.0, "wilson"};
  const double n = trials;
  const double z2 = z * z;
  const double center = (proportion + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(proportion * (1 - proportion) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  return {std::max(0.0, center - half), std::min(1.0, center + half), "wilson"};
}

MeanInterval question_interval(const std::vector<double>& per_question, double confidence) {
  check_probability(confidence, "confidence");
  const double z = normal_quantile(0.5 + confidence / 2.0);
  const MeanWithError estimate = question_mean(per_question);
  const double low = estimate.mean - z * estimate.standard_error;
  const double high = estimate.mean + z * estimate.standard_error;
  // The normal interval is fine for many questions away from the bounds; at 0 or 1 its SE is 0 and it
  // collapses, and near them it leaves [0, 1]: the Wilson interval behaves there.
  if (estimate.count >= kWilsonBelowQuestions && low > 0.0 && high < 1.0) return {low, high, "normal"};
  return wilson_interval_of_proportion(estimate.mean, estimate.count, z);
}

double mean_of(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double pearson_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("pearson_correlation: sides differ in length");
  const double mean_a = mean_of(a), mean_b = mean_of(b);
  double covariance = 0.0, variance_a = 0.0, variance_b = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    covariance += (a[i] - mean_a) * (b[i] - mean_b);
    variance_a += (a[i] - mean_a) * (a[i] - mean_a);
    variance_b += (b[i] - mean_b) * (b[i] - mean_b);
  }
  return variance_a > 0 && variance_b > 0 ? covariance / std::sqrt(variance_a * variance_b) : 0.0;
}

double clustered_standard_error(const std::vector<double>& values, const std::vector<int>& cluster_of) {
  const double mean = mean_of(values);
  const ClusterSums clusters = sum_by_cluster(values, cluster_of);
  const double g = static_cast<double>(clusters.sums.size());
  if (g < 2) throw std::invalid_argument("clustered_standard_error: needs at least two clusters");
  double squares = 0.0;
  for (size_t c = 0; c < clusters.sums.size(); ++c) {
    const double residual_sum = clusters.sums[c] - clusters.counts[c] * mean;
    squares += residual_sum * residual_sum;
  }
  const double n = static_cast<double>(values.size());
  return std::sqrt(g / (g - 1.0) * squares / (n * n));
}

double mcnemar_exact_p_value(int only_a_correct, int only_b_correct) {
  if (only_a_correct < 0 || only_b_correct < 0) throw std::invalid_argument("mcnemar: counts must be non-negative");
  const int n = only_a_correct + only_b_correct;
  if (n == 0) return 1.0;
  const int smaller = std::min(only_a_correct, only_b_correct);
  double tail = 0.0;  // P(X <= smaller), X ~ Binomial(n, 1/2)
  for (int i = 0; i <= smaller; ++i) {
    tail += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0));
  }
  return std::min(1.0, 2.0 * tail);
}

double sign_flip_p_value(const std::vector<double>& differences, const std::vector<int>& cluster_of, int resamples,
                         uint64_t seed) {
  const ClusterSums clusters = sum_by_cluster(differences, cluster_of);
  const double observed = std::fabs(mean_of(differences));
  if (observed == 0.0 || resamples <= 0) return 1.0;
  const double n = static_cast<double>(differences.size());
  std::mt19937_64 rng(seed);
  int extreme = 0;
  for (int r = 0; r < resamples; ++r) {
    double sum = 0.0;
    for (double s : clusters.sums) sum += (rng() & 1) ? s : -s;
    if (std::fabs(sum / n) >= observed - kTieTolerance) ++extreme;
  }
  return (extreme + 1.0) / (resamples + 1.0);
}

double paired_bootstrap_p_value(const std::vector<double>& differences, const std::vector<int>& cluster_of,
                                int resamples, uint64_t seed) {
  const double mean = mean_of(differences);
  const double observed = std::fabs(mean);
  if (observed == 0.0 || resamples <= 0) return 1.0;
  ClusterSums clusters = sum_by_cluster(differences, cluster_of);
  for (size_t c = 0; c < clusters.sums.size(); ++c) clusters.sums[c] -= clusters.counts[c] * mean;  // impose the null
  const size_t g = clusters.sums.size();
  std::mt19937_64 rng(seed);
  int extreme = 0;
  for (int r = 0; r < resamples; ++r) {
    double sum = 0.0, count = 0.0;
    for (size_t i = 0; i < g; ++i) {
      const size_t drawn = uniform_index(rng, g);
      sum += clusters.sums[drawn];
      count += clusters.counts[drawn];
    }
    if (std::fabs(sum / count) >= observed - kTieTolerance) ++extreme;
  }
  return (extreme + 1.0) / (resamples + 1.0);
}

std::vector<double> holm_adjusted(const std::vector<double>& p_values) {
  const size_t m = p_values.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running_max = 0.0;
  for (size_t rank = 0; rank < m; ++rank) {
    running_max = std::max(running_max, std::min(1.0, static_cast<double>(m - rank) * p_values[order[rank]]));
    adjusted[order[rank]] = running_max;
  }
  return adjusted;
}

double minimum_detectable_effect(double standard_error, double degrees_of_freedom, double alpha, double power) {
  check_probability(alpha, "alpha");
  check_probability(power, "power");
  return (student_t_quantile(1.0 - alpha / 2.0, degrees_of_freedom) + student_t_quantile(power, degrees_of_freedom)) *
         standard_error;
}

NonInferiority non_inferiority_test(double delta, double standard_error, double degrees_of_freedom, double margin,
                                    double alpha) {
  check_probability(alpha, "alpha");
  if (!(margin >= 0.0)) throw std::invalid_argument("non_inferiority_test: the margin must be non-negative");
  NonInferiority result;
  result.lower_bound = delta - student_t_quantile(1.0 - alpha, degrees_of_freedom) * standard_error;
  if (standard_error > 0.0) {
    result.p_value = student_t_cdf(-(delta + margin) / standard_error, degrees_of_freedom);  // upper tail
  } else {
    result.p_value = delta > -margin ? 0.0 : 1.0;  // every paired difference is the same: no sampling error
  }
  result.non_inferior = result.lower_bound > -margin;
  return result;
}

}  // namespace rbench
