#include "scorers/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rbench {

double pass_at_k(int n, int c, int k) {
  if (n - c < k) return 1.0;
  // 1 - prod_{i=n-c+1}^{n} (1 - k/i)
  double all_fail = 1.0;
  for (int i = n - c + 1; i <= n; ++i) all_fail *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - all_fail;
}

namespace {

long double log_binomial(int n, int k) {
  return std::lgammal(n + 1.0L) - std::lgammal(k + 1.0L) - std::lgammal(n - k + 1.0L);
}

void check_draw(int n, int c, int k) {
  if (n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw std::invalid_argument("need 0 <= c <= n and 1 <= k <= n");
  }
}

// P(at least `least` of k draws without replacement from n items, c of them correct, are correct).
double hypergeometric_tail(int n, int c, int k, int least) {
  const long double all_draws = log_binomial(n, k);
  long double total = 0.0L;
  for (int j = std::max(least, k - (n - c)); j <= std::min(c, k); ++j) {
    total += std::exp(log_binomial(c, j) + log_binomial(n - c, k - j) - all_draws);
  }
  return static_cast<double>(std::min(total, 1.0L));
}

}  // namespace

double g_pass_at_k(int n, int c, int k, double tau) {
  check_draw(n, c, k);
  if (!(tau >= 0.0 && tau <= 1.0)) throw std::invalid_argument("tau must lie in [0, 1]");
  // ceil(tau * k), forgiving the rounding of products such as 0.3 * 10 = 3.0000000000000004
  const int least = std::max(1, static_cast<int>(std::ceil(tau * k - 1e-9)));
  return hypergeometric_tail(n, c, k, least);
}

double mg_pass_at_k(int n, int c, int k) {
  check_draw(n, c, k);
  const int half = (k + 1) / 2;  // ceil(k / 2)
  double sum = 0.0;
  for (int least = half + 1; least <= k; ++least) sum += hypergeometric_tail(n, c, k, least);
  return 2.0 * sum / k;
}

MajorityVote majority_vote(const std::vector<std::string>& answers,
                           const std::function<bool(const std::string&, const std::string&)>& equivalent) {
  struct Group {
    const std::string* representative;
    int count;
  };
  std::vector<Group> groups;  // in order of first appearance
  for (const std::string& answer : answers) {
    if (answer.empty()) continue;
    const auto group = std::find_if(groups.begin(), groups.end(),
                                    [&](const Group& g) { return equivalent(*g.representative, answer); });
    if (group == groups.end()) {
      groups.push_back({&answer, 1});
    } else {
      ++group->count;
    }
  }
  MajorityVote vote;
  for (const Group& group : groups) {
    if (group.count > vote.count) {
      vote = {*group.representative, group.count, false};
    } else if (group.count == vote.count) {
      vote.tied = true;
    }
  }
  return vote;
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
