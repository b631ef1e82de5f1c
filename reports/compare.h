#pragma once
// Head-to-head: two runs on the items they share, as paired differences (never as two independent means).
#include <string>
#include <vector>

#include "harness/store/store.h"

namespace rbench {

struct FlippedItem {
  std::string problem_id;
  double score_a = 0.0;  // mean score of run A's samples on the item
  double score_b = 0.0;
};

struct PairedComparison {
  std::string run_a, run_b, model_a, model_b, suite;
  int items = 0;            // items both runs graded
  double mean_a = 0.0;
  double mean_b = 0.0;
  double delta = 0.0;       // mean_b - mean_a
  double standard_error = 0.0;  // of delta, from the per-item differences
  double ci_low = 0.0;      // 95%, normal approximation
  double ci_high = 0.0;
  double correlation = 0.0; // Pearson, per-item scores of A and B
  double p_value = 1.0;     // two-sided paired permutation test (random sign flips of the differences)
  double minimum_detectable_effect = 0.0;  // 80% power at alpha 0.05: (1.96 + 0.84) * SE
  std::vector<FlippedItem> flipped;  // items where one run solved every sample and the other none
};

// Throws UserError when a run is unknown or the runs share no graded item.
PairedComparison compare_runs(const Store& store, const std::string& run_a, const std::string& run_b,
                              int bootstrap_resamples = 10000, uint64_t seed = 1);

std::string render_comparison(const PairedComparison& comparison);

}  // namespace rbench
