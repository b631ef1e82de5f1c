#include "reports/compare.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <random>

#include "common/error.h"

namespace rbench {

namespace {

// Mean score per item over the run's graded samples (errors excluded).
std::map<std::string, double> item_scores(const Store& store, const std::string& run_id) {
  std::map<std::string, std::pair<double, int>> sums;
  for (const auto& sample : store.samples(run_id)) {
    if (!sample.error.empty()) continue;
    auto& [sum, count] = sums[sample.problem_id];
    sum += sample.score;
    ++count;
  }
  std::map<std::string, double> means;
  for (const auto& [id, sum_count] : sums) means[id] = sum_count.first / sum_count.second;
  return means;
}

RunRecord require_run(const Store& store, const std::string& run_id) {
  auto run = store.run(run_id);
  if (!run) throw UserError(fmt::format("no run '{}' in {} (see `rbench runs`)", run_id, store.path().string()));
  return *run;
}

double mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = mean(a), mb = mean(b);
  double cov = 0.0, va = 0.0, vb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    cov += (a[i] - ma) * (b[i] - mb);
    va += (a[i] - ma) * (a[i] - ma);
    vb += (b[i] - mb) * (b[i] - mb);
  }
  return va > 0 && vb > 0 ? cov / std::sqrt(va * vb) : 0.0;
}

// Under the null the differences are symmetric about zero: flip each centred difference's sign at random
// and count how often the resampled mean is at least as far from zero as the observed one.
double sign_flip_p_value(const std::vector<double>& differences, int resamples, uint64_t seed) {
  const double observed = std::fabs(mean(differences));
  if (observed == 0.0) return 1.0;
  std::mt19937_64 rng(seed);
  int extreme = 0;
  for (int r = 0; r < resamples; ++r) {
    double sum = 0.0;
    for (double d : differences) sum += (rng() & 1) ? d : -d;
    if (std::fabs(sum / static_cast<double>(differences.size())) >= observed - 1e-12) ++extreme;
  }
  return (extreme + 1.0) / (resamples + 1.0);
}

}  // namespace

PairedComparison compare_runs(const Store& store, const std::string& run_a, const std::string& run_b,
                              int bootstrap_resamples, uint64_t seed) {
  const RunRecord a = require_run(store, run_a);
  const RunRecord b = require_run(store, run_b);
  const auto scores_a = item_scores(store, run_a);
  const auto scores_b = item_scores(store, run_b);

  PairedComparison result;
  result.run_a = run_a;
  result.run_b = run_b;
  result.model_a = a.model_name;
  result.model_b = b.model_name;
  result.suite = a.suite_name;
  std::vector<double> xs, ys, differences;
  for (const auto& [id, score_a] : scores_a) {
    const auto it = scores_b.find(id);
    if (it == scores_b.end()) continue;
    xs.push_back(score_a);
    ys.push_back(it->second);
    differences.push_back(it->second - score_a);
    if ((score_a == 1.0 && it->second == 0.0) || (score_a == 0.0 && it->second == 1.0)) {
      result.flipped.push_back({id, score_a, it->second});
    }
  }
  if (differences.empty()) {
    throw UserError(fmt::format("runs {} and {} share no graded item: compare runs of the same suite", run_a, run_b));
  }
  result.items = static_cast<int>(differences.size());
  result.mean_a = mean(xs);
  result.mean_b = mean(ys);
  result.delta = mean(differences);
  if (result.items > 1) {
    double squares = 0.0;
    for (double d : differences) squares += (d - result.delta) * (d - result.delta);
    result.standard_error = std::sqrt(squares / (result.items - 1) / result.items);
  }
  result.ci_low = result.delta - 1.96 * result.standard_error;
  result.ci_high = result.delta + 1.96 * result.standard_error;
  result.correlation = pearson(xs, ys);
  result.p_value = sign_flip_p_value(differences, bootstrap_resamples, seed);
  result.minimum_detectable_effect = (1.959964 + 0.841621) * result.standard_error;
  return result;
}

std::string render_comparison(const PairedComparison& c) {
  std::string out = fmt::format(
      "{} vs {} on {} ({} shared items)\n"
      "  avg@k      A {:.1f}%   B {:.1f}%\n"
      "  delta B-A  {:+.1f} points, 95% CI [{:+.1f}, {:+.1f}], paired SE {:.1f}\n"
      "  p = {:.4f} (paired sign-flip test)   correlation {:.2f}   minimum detectable effect {:.1f} points\n",
      c.model_a, c.model_b, c.suite, c.items, 100 * c.mean_a, 100 * c.mean_b, 100 * c.delta, 100 * c.ci_low,
      100 * c.ci_high, 100 * c.standard_error, c.p_value, c.correlation, 100 * c.minimum_detectable_effect);
  out += fmt::format("  flipped items ({}):", c.flipped.size());
  for (const auto& item : c.flipped) out += fmt::format(" {}{}", item.problem_id, item.score_b > item.score_a ? "+" : "-");
  return out + "\n";
}

}  // namespace rbench
