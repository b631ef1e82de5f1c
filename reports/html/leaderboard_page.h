#pragma once
// `rbench report leaderboard --format html`: the leaderboard as one self-contained page with a sortable
// runs table, a models x suites matrix and inline SVG plots (accuracy vs cost, accuracy vs think length,
// output-length histograms).
#include <cstdint>
#include <string>
#include <vector>

#include "harness/store/store.h"
#include "reports/leaderboard.h"

namespace rbench::html {

// Counts of values in equal bins [i * bin_width, (i + 1) * bin_width) covering 0..upper; values above
// `upper` go to the last bin. bin_width is a whole number of tokens, at least 1.
struct Histogram {
  int64_t bin_width = 1;
  std::vector<int64_t> counts;
};
Histogram length_histogram(const std::vector<int64_t>& values, int64_t upper, int bins);

// The page's data: the leaderboard rows (as `report --format json` writes them) and one output-token
// histogram per run, with bins shared by the runs of a suite so they read on one axis.
nlohmann::json leaderboard_page_data(const Store& store, const LeaderboardOptions& options);

std::string render_leaderboard_page(const Store& store, const LeaderboardOptions& options);

}  // namespace rbench::html
