#include "reports/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"

namespace rbench {

namespace {

RunRecord require_run(const Store& store, const std::string& run_id) {
  auto run = store.run(run_id);
  if (!run) throw UserError(fmt::format("no run '{}' in {} (see `rbench runs`)", run_id, store.path().string()));
  return *run;
}

struct SharedItems {
  std::vector<std::string> ids;
  std::vector<ItemScore> a, b;  // the same problems, in the same order
};

// Items both runs graded; item_scores lists each run's problems sorted by id, so a merge pairs them.
SharedItems shared_items(const Store& store, const std::string& run_a, const std::string& run_b) {
  const std::vector<ItemScore> scores_a = store.item_scores(run_a);
  const std::vector<ItemScore> scores_b = store.item_scores(run_b);
  SharedItems shared;
  auto a = scores_a.begin(), b = scores_b.begin();
  while (a != scores_a.end() && b != scores_b.end()) {
    if (a->problem_id < b->problem_id) {
      ++a;
    } else if (b->problem_id < a->problem_id) {
      ++b;
    } else {
      shared.ids.push_back(a->problem_id);
      shared.a.push_back(*a++);
      shared.b.push_back(*b++);
    }
  }
  return shared;
}

// Metadata of the shared items, from the suite versions the two runs used.
std::map<std::string, nlohmann::json> item_metadata(const Store& store, const RunRecord& a, const RunRecord& b,
                                                    const std::vector<std::string>& ids) {
  const std::set<std::string> wanted(ids.begin(), ids.end());
  std::map<std::string, nlohmann::json> metadata;
  for (const RunRecord* run : {&a, &b}) {
    if (run == &b && b.suite_hash == a.suite_hash) break;  // one suite version: already read
    for (auto& problem : store.problems(run->suite_name, run->suite_hash)) {
      if (wanted.contains(problem.problem_id)) metadata.emplace(problem.problem_id, std::move(problem.metadata));
    }
  }
  return metadata;
}

std::optional<std::string> cluster_value(const nlohmann::json& metadata, std::string_view field) {
  if (!metadata.is_object()) return std::nullopt;
  const auto it = metadata.find(field);
  if (it == metadata.end() || it->is_null()) return std::nullopt;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

struct ItemClusters {
  std::string field;
  std::vector<int> cluster_of;
  int count = 0;
};

// Cluster indices of the items by `field`; nullopt when some item lacks it. `missing` names the first such item.
std::optional<ItemClusters> group_by(const std::map<std::string, nlohmann::json>& metadata,
                                     const std::vector<std::string>& ids, std::string_view field,
                                     std::string& missing) {
  ItemClusters clusters;
  clusters.field = field;
  std::map<std::string, int> index;
  for (const std::string& id : ids) {
    const auto found = metadata.find(id);
    const auto value = found == metadata.end() ? std::nullopt : cluster_value(found->second, field);
    if (!value) {
      missing = id;
      return std::nullopt;
    }
    clusters.cluster_of.push_back(index.emplace(*value, static_cast<int>(index.size())).first->second);
  }
  clusters.count = static_cast<int>(index.size());
  return clusters;
}

// The clustering options.cluster_by asks for, or nullopt with the reason in `note`.
std::optional<ItemClusters> choose_clusters(const Store& store, const RunRecord& a, const RunRecord& b,
                                            const std::vector<std::string>& ids, const std::string& cluster_by,
                                            std::string& note) {
  if (cluster_by == "none") {
    note = "not clustered (--cluster-by none)";
    return std::nullopt;
  }
  const auto metadata = item_metadata(store, a, b, ids);
  std::string missing;
  if (cluster_by != "auto") {
    auto clusters = group_by(metadata, ids, cluster_by, missing);
    if (!clusters) {
      throw UserError(fmt::format("--cluster-by {}: problem {} of suite {} has no metadata field '{}'", cluster_by,
                                  missing, a.suite_name, cluster_by));
    }
    if (clusters->count < 2) {
      throw UserError(fmt::format("--cluster-by {}: every shared item of suite {} has the same value, so there is "
                                  "one cluster and no clustered standard error",
                                  cluster_by, a.suite_name));
    }
    return clusters;
  }
  std::vector<std::string> reasons;
  for (std::string_view field : kClusterFields) {
    auto clusters = group_by(metadata, ids, field, missing);
    if (!clusters) continue;
    if (clusters->count >= kMinimumAutoClusters) return clusters;
    reasons.push_back(fmt::format("'{}' forms only {} groups", field, clusters->count));
  }
  note = reasons.empty()
             ? fmt::format("not clustered: no item metadata field among {}", fmt::join(kClusterFields, ", "))
             : fmt::format("not clustered: {} (auto needs {})", fmt::join(reasons, ", "), kMinimumAutoClusters);
  return std::nullopt;
}

ClusteredError clustered_error(const std::vector<double>& differences, double delta, const ItemClusters& clusters) {
  ClusteredError error;
  error.field = clusters.field;
  error.clusters = clusters.count;
  error.standard_error = clustered_standard_error(differences, clusters.cluster_of);
  error.degrees_of_freedom = clusters.count - 1.0;
  const double t = student_t_quantile(0.975, error.degrees_of_freedom);
  error.ci_low = delta - t * error.standard_error;
  error.ci_high = delta + t * error.standard_error;
  return error;
}

bool binary_single_sample(const ItemScore& item) {
  return item.samples == 1 && (item.score_sum == 0.0 || item.score_sum == 1.0);
}

// The latest finished run of each suite, by suite name; `runs` come newest first, as the store lists them.
std::vector<RunRecord> latest_finished_per_suite(const std::vector<RunRecord>& runs, const std::string& what) {
  std::map<std::string, RunRecord> latest;
  for (const auto& run : runs) {
    if (run.status == "finished") latest.emplace(run.suite_name, run);
  }
  if (latest.empty()) {
    std::vector<std::string> described;
    for (const auto& run : runs) described.push_back(fmt::format("{} ({})", run.run_id, run.status));
    throw UserError(fmt::format("{} names no finished run: {}", what, fmt::join(described, ", ")));
  }
  std::vector<RunRecord> selected;
  for (auto& [suite, run] : latest) selected.push_back(std::move(run));
  return selected;
}

std::string points(double fraction) { return fmt::format("{:+.1f}", 100 * fraction); }

}  // namespace

double PairedComparison::inference_standard_error() const {
  return clustered ? clustered->standard_error : standard_error;
}

double PairedComparison::inference_degrees_of_freedom() const {
  return clustered ? clustered->degrees_of_freedom : kInfiniteDegreesOfFreedom;
}

PairedComparison compare_runs(const Store& store, const std::string& run_a, const std::string& run_b,
                              const CompareOptions& options) {
  const RunRecord a = require_run(store, run_a);
  const RunRecord b = require_run(store, run_b);
  if (a.suite_name != b.suite_name) {
    throw UserError(fmt::format("runs {} and {} are of different suites ({} and {}): compare runs of one suite",
                                run_a, run_b, a.suite_name, b.suite_name));
  }
  const SharedItems shared = shared_items(store, run_a, run_b);
  if (shared.ids.empty()) {
    throw UserError(fmt::format("runs {} ({}) and {} ({}) share no graded item: compare runs of the same suite",
                                run_a, a.suite_name, run_b, b.suite_name));
  }

  PairedComparison result;
  result.run_a = run_a;
  result.run_b = run_b;
  result.model_a = a.model_name;
  result.model_b = b.model_name;
  result.suite = a.suite_name;
  result.items = static_cast<int>(shared.ids.size());
  result.resamples = options.resamples;
  result.seed = options.seed;
  std::vector<double> xs, ys, differences;
  bool binary = true;
  for (size_t i = 0; i < shared.ids.size(); ++i) {
    const double score_a = shared.a[i].score_sum / shared.a[i].samples;
    const double score_b = shared.b[i].score_sum / shared.b[i].samples;
    xs.push_back(score_a);
    ys.push_back(score_b);
    differences.push_back(score_b - score_a);
    if ((score_a == 1.0 && score_b == 0.0) || (score_a == 0.0 && score_b == 1.0)) {
      result.flipped.push_back({shared.ids[i], score_a, score_b});
      (score_a == 1.0 ? result.only_a_correct : result.only_b_correct) += 1;
    }
    binary = binary && binary_single_sample(shared.a[i]) && binary_single_sample(shared.b[i]);
  }
  result.mean_a = mean_of(xs);
  result.mean_b = mean_of(ys);
  result.delta = mean_of(differences);
  if (result.items > 1) result.standard_error = clustered_standard_error(differences, {});
  result.ci_low = result.delta - normal_quantile(0.975) * result.standard_error;
  result.ci_high = result.delta + normal_quantile(0.975) * result.standard_error;
  result.correlation = pearson_correlation(xs, ys);

  const auto clusters = choose_clusters(store, a, b, shared.ids, options.cluster_by, result.cluster_note);
  const std::vector<int> cluster_of = clusters ? clusters->cluster_of : std::vector<int>{};
  if (clusters) result.clustered = clustered_error(differences, result.delta, *clusters);
  result.sign_flip_p = sign_flip_p_value(differences, cluster_of, options.resamples, options.seed);
  result.bootstrap_p = paired_bootstrap_p_value(differences, cluster_of, options.resamples, options.seed);
  if (binary) result.mcnemar_p = mcnemar_exact_p_value(result.only_a_correct, result.only_b_correct);
  if (result.mcnemar_p && !clusters) {
    result.p_value = *result.mcnemar_p;
    result.p_method = "McNemar exact";
  } else {
    result.p_value = result.sign_flip_p;
    result.p_method = clusters ? "cluster sign-flip" : "paired sign-flip";
  }
  result.minimum_detectable_effect =
      minimum_detectable_effect(result.inference_standard_error(), result.inference_degrees_of_freedom());
  return result;
}

std::vector<RunRecord> resolve_runs(const Store& store, const std::string& selector) {
  if (selector.empty()) throw UserError("an empty run selector: give a run id, a tag or a model name");
  if (auto run = store.run(selector)) return {*run};
  const std::vector<RunRecord> tagged = store.runs(selector);
  if (!tagged.empty()) return latest_finished_per_suite(tagged, "tag " + selector);
  const std::vector<RunRecord> all = store.runs();
  std::vector<RunRecord> of_model, by_prefix;
  for (const auto& run : all) {
    if (run.model_name == selector) of_model.push_back(run);
    if (run.run_id.starts_with(selector)) by_prefix.push_back(run);
  }
  if (!of_model.empty()) return latest_finished_per_suite(of_model, "model " + selector);
  if (by_prefix.size() == 1) return by_prefix;
  if (by_prefix.size() > 1) {
    std::vector<std::string> ids;
    for (const auto& run : by_prefix) ids.push_back(run.run_id);
    throw UserError(fmt::format("run prefix '{}' is ambiguous: {}", selector, fmt::join(ids, ", ")));
  }
  throw UserError(fmt::format("'{}' is no run id, tag or model name in {} (see `rbench runs`)", selector,
                              store.path().string()));
}

ComparisonSet compare_selections(const Store& store, const std::string& a, const std::string& b,
                                 const CompareOptions& options) {
  std::vector<RunRecord> runs_a = resolve_runs(store, a);
  std::vector<RunRecord> runs_b = resolve_runs(store, b);
  if (!options.suite.empty()) {
    for (auto [runs, name] : {std::pair{&runs_a, &a}, std::pair{&runs_b, &b}}) {
      std::erase_if(*runs, [&](const RunRecord& run) { return run.suite_name != options.suite; });
      if (runs->empty()) throw UserError(fmt::format("'{}' names no run of suite {}", *name, options.suite));
    }
  }
  ComparisonSet set;
  if (runs_a.size() == 1 && runs_b.size() == 1) {
    set.comparisons.push_back(compare_runs(store, runs_a[0].run_id, runs_b[0].run_id, options));
    return set;
  }
  std::map<std::string, const RunRecord*> by_suite_b;
  for (const auto& run : runs_b) by_suite_b[run.suite_name] = &run;
  for (const auto& run : runs_a) {
    const auto match = by_suite_b.find(run.suite_name);
    if (match == by_suite_b.end()) {
      set.unpaired.push_back({run.suite_name, run.run_id, true});
      continue;
    }
    set.comparisons.push_back(compare_runs(store, run.run_id, match->second->run_id, options));
    by_suite_b.erase(match);
  }
  for (const auto& [suite, run] : by_suite_b) {
    set.unpaired.push_back({suite, run->run_id, false});
  }
  if (set.comparisons.empty()) {
    std::vector<std::string> suites;
    for (const auto& run : set.unpaired) {
      suites.push_back(fmt::format("{} only in {}", run.suite, run.on_side_a ? a : b));
    }
    throw UserError(fmt::format("'{}' and '{}' have no suite in common: {}", a, b, fmt::join(suites, "; ")));
  }
  if (set.comparisons.size() > 1) {
    std::vector<double> p_values;
    for (const auto& comparison : set.comparisons) p_values.push_back(comparison.p_value);
    const std::vector<double> adjusted = holm_adjusted(p_values);
    for (size_t i = 0; i < adjusted.size(); ++i) set.comparisons[i].holm_p_value = adjusted[i];
  }
  return set;
}

std::string render_comparison(const PairedComparison& c) {
  std::string out = fmt::format(
      "{} vs {} on {} ({} shared items)\n"
      "  avg@k      A {:.1f}%   B {:.1f}%   correlation {:.2f}\n"
      "  delta B-A  {} points, 95% CI [{}, {}], paired SE {:.1f}\n",
      c.model_a, c.model_b, c.suite, c.items, 100 * c.mean_a, 100 * c.mean_b, c.correlation, points(c.delta),
      points(c.ci_low), points(c.ci_high), 100 * c.standard_error);
  if (c.clustered) {
    const ClusteredError& k = *c.clustered;
    out += fmt::format("  clustered  by {} ({} clusters): SE {:.1f}, 95% CI [{}, {}] (t, {:.0f} df)\n", k.field,
                       k.clusters, 100 * k.standard_error, points(k.ci_low), points(k.ci_high), k.degrees_of_freedom);
  } else {
    out += fmt::format("  {}\n", c.cluster_note);
  }
  out += fmt::format("  p = {:.4f} ({})", c.p_value, c.p_method);
  if (c.holm_p_value) out += fmt::format(", Holm-adjusted {:.4f}", *c.holm_p_value);
  out += fmt::format("   sign-flip {:.4f}, paired bootstrap {:.4f} ({} resamples, seed {})", c.sign_flip_p,
                     c.bootstrap_p, c.resamples, c.seed);
  if (c.mcnemar_p) out += fmt::format(", McNemar exact {:.4f} ({} vs {} discordant)", *c.mcnemar_p, c.only_a_correct,
                                      c.only_b_correct);
  out += fmt::format("\n  minimum detectable effect {:.1f} points (80% power, two-sided alpha 0.05)\n",
                     100 * c.minimum_detectable_effect);
  out += fmt::format("  flipped items ({}):", c.flipped.size());
  for (const auto& item : c.flipped) {
    out += fmt::format(" {}{}", item.problem_id, item.score_b > item.score_a ? "+" : "-");
  }
  return out + "\n";
}

std::string render_comparisons(const ComparisonSet& set) {
  std::string out;
  for (const auto& comparison : set.comparisons) out += render_comparison(comparison);
  if (set.comparisons.size() > 1) {
    out += fmt::format("\n{:<16} {:>6} {:>8} {:>18} {:>8} {:>8}\n", "suite", "items", "delta", "95% CI", "p",
                       "Holm p");
    for (const auto& c : set.comparisons) {
      const double low = c.clustered ? c.clustered->ci_low : c.ci_low;
      const double high = c.clustered ? c.clustered->ci_high : c.ci_high;
      out += fmt::format("{:<16} {:>6} {:>8} {:>18} {:>8.4f} {:>8.4f}\n", c.suite, c.items, points(c.delta),
                         fmt::format("[{}, {}]", points(low), points(high)), c.p_value,
                         c.holm_p_value.value_or(c.p_value));
    }
  }
  for (const auto& run : set.unpaired) {
    out += fmt::format("not compared: {} (only {} has it: run {})\n", run.suite, run.on_side_a ? "A" : "B", run.run_id);
  }
  return out;
}

}  // namespace rbench
