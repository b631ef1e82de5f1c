#include "scorers/metrics.h"

#include <algorithm>
#include <cmath>

namespace rbench {

double pass_at_k(int n, int c, int k) {
  if (n - c < k) return 1.0;
  // 1 - prod_{i=n-c+1}^{n} (1 - k/i)
  double all_fail = 1.0;
  for (int i = n - c + 1; i <= n; ++i) all_fail *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - all_fail;
}

MeanWithError question_mean(const std::vector<double>& per_question) {
  MeanWithError result;
  result.count = static_cast<int>(per_question.size());
  if (per_question.empty()) return result;
  double sum = 0.0;
  for (double x : per_question) sum += x;
  result.mean = sum / result.count;
  if (result.count < 2) return result;
  double squares = 0.0;
  for (double x : per_question) squares += (x - result.mean) * (x - result.mean);
  result.standard_error = std::sqrt(squares / (result.count - 1) / result.count);
  return result;
}

Interval wilson_interval(int successes, int trials, double z) {
  if (trials <= 0) return {0.0, 1.0};
  const double n = trials;
  const double p = successes / n;
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

}  // namespace rbench
