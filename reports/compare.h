#pragma once
// Head-to-head: two runs on the items they share, as paired differences (never as two independent means).
// A side may name one run or several (a tag, a model): runs are then paired by suite, one comparison per
// suite, with Holm-adjusted p-values across the suites.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/store/store.h"
#include "reports/statistics.h"

namespace rbench {

// Problem-metadata fields that group items, tried in this order when clustering is "auto".
inline constexpr std::array<std::string_view, 5> kClusterFields = {"cluster", "contest", "repository", "repo",
                                                                    "subject"};
// "auto" clusters only with at least this many groups: with fewer, a cluster-robust SE is itself too noisy.
inline constexpr int kMinimumAutoClusters = 5;

struct CompareOptions {
  std::string cluster_by = "auto";  // a problem-metadata field, "auto" (kClusterFields) or "none"
  int resamples = kDefaultResamples;  // sign-flip and bootstrap resamples
  uint64_t seed = kDefaultResamplingSeed;
  std::string suite;  // only this suite ("" = every suite both sides have)
};

struct FlippedItem {
  std::string problem_id;
  double score_a = 0.0;  // mean score of run A's samples on the item
  double score_b = 0.0;
};

// A standard error from items grouped by a metadata field (Liang-Zeger, G/(G-1)), with a t interval.
struct ClusteredError {
  std::string field;
  int clusters = 0;
  double standard_error = 0.0;
  double degrees_of_freedom = 0.0;  // clusters - 1
  double ci_low = 0.0;              // 95%, t quantile at clusters - 1 degrees of freedom
  double ci_high = 0.0;
};

struct PairedComparison {
  std::string run_a, run_b, model_a, model_b, suite;
  int items = 0;            // items both runs graded
  double mean_a = 0.0;
  double mean_b = 0.0;
  double delta = 0.0;       // mean_b - mean_a
  double standard_error = 0.0;  // of delta, from the per-item differences (items independent)
  double ci_low = 0.0;      // 95%, normal approximation on standard_error
  double ci_high = 0.0;
  std::optional<ClusteredError> clustered;  // when items group (see CompareOptions::cluster_by)
  std::string cluster_note;  // why the items were not clustered, when they were not
  double correlation = 0.0;  // Pearson, per-item scores of A and B
  // The primary two-sided p-value: McNemar's exact test when every item is one 0/1 sample on both sides and
  // the items are not clustered, else the paired sign-flip test (flipping whole clusters when clustered).
  double p_value = 1.0;
  std::string p_method;
  double sign_flip_p = 1.0;
  double bootstrap_p = 1.0;  // paired bootstrap (resampling clusters when clustered), null imposed
  std::optional<double> mcnemar_p;
  int only_a_correct = 0;    // binary items: discordant pairs
  int only_b_correct = 0;
  std::optional<double> holm_p_value;  // when compared together with other suites
  int resamples = 0;
  uint64_t seed = 0;
  double minimum_detectable_effect = 0.0;  // 80% power at two-sided alpha 0.05, from the inference SE
  std::vector<FlippedItem> flipped;  // items where one run solved every sample and the other none

  // What inference uses: the clustered SE and its t degrees of freedom when clustered, else the item SE
  // with the normal distribution (infinite degrees of freedom).
  double inference_standard_error() const;
  double inference_degrees_of_freedom() const;
};

// Throws UserError when a run is unknown, the runs are of different suites or share no graded item, or
// --cluster-by names a field
// some shared item lacks.
PairedComparison compare_runs(const Store& store, const std::string& run_a, const std::string& run_b,
                              const CompareOptions& options = {});

// The runs a selector names: a run id, else a tag, else a model name, else a unique run-id prefix.
// A tag or model stands for the latest finished run of each of its suites. Throws UserError naming what
// was tried when nothing matches.
std::vector<RunRecord> resolve_runs(const Store& store, const std::string& selector);

// A run of a suite the other side has no run of.
struct UnpairedRun {
  std::string suite;
  std::string run_id;
  bool on_side_a = false;
};

struct ComparisonSet {
  std::vector<PairedComparison> comparisons;  // one per suite both sides have, by suite name
  std::vector<UnpairedRun> unpaired;
};
// Compares what selectors `a` and `b` name, suite by suite; with several suites, fills holm_p_value.
ComparisonSet compare_selections(const Store& store, const std::string& a, const std::string& b,
                                 const CompareOptions& options = {});

std::string render_comparison(const PairedComparison& comparison);
std::string render_comparisons(const ComparisonSet& set);

}  // namespace rbench
