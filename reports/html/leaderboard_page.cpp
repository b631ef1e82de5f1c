#include "reports/html/leaderboard_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "reports/html/assets.h"
#include "reports/html/page.h"

namespace rbench::html {

namespace {

constexpr int histogram_bins = 24;

nlohmann::json histograms(const Store& store, const nlohmann::json& rows) {
  std::map<std::string, std::vector<int64_t>> counts_by_run;
  std::map<std::string, int64_t> longest_by_suite;
  for (const auto& row : rows) {
    const std::string run_id = row.at("run_id");
    auto& counts = counts_by_run[run_id] = store.output_token_counts(run_id);
    int64_t& longest = longest_by_suite[row.at("suite")];
    for (int64_t count : counts) longest = std::max(longest, count);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    const std::string run_id = row.at("run_id");
    const Histogram histogram =
        length_histogram(counts_by_run[run_id], longest_by_suite[row.at("suite")], histogram_bins);
    out.push_back({{"run_id", run_id}, {"bin_width", histogram.bin_width}, {"counts", histogram.counts}});
  }
  return out;
}

}  // namespace

Histogram length_histogram(const std::vector<int64_t>& values, int64_t upper, int bins) {
  Histogram histogram;
  bins = std::max(bins, 1);
  upper = std::max<int64_t>(upper, 0);
  histogram.bin_width = std::max<int64_t>(1, (upper + bins) / bins);  // ceil((upper + 1) / bins)
  const int64_t used_bins = std::min<int64_t>(bins, upper / histogram.bin_width + 1);
  histogram.counts.assign(used_bins, 0);
  for (int64_t value : values) {
    const int64_t bin = std::clamp<int64_t>(value / histogram.bin_width, 0, used_bins - 1);
    ++histogram.counts[bin];
  }
  return histogram;
}

nlohmann::json leaderboard_page_data(const Store& store, const LeaderboardOptions& options) {
  // The rows as the JSON report writes them, so every field the leaderboard gains reaches the page too.
  nlohmann::json rows =
      nlohmann::json::parse(render_leaderboard(leaderboard_rows(store, options), ReportFormat::json));
  nlohmann::json data = {{"store", store.path().string()}, {"tag", options.tag}, {"generated_at", utc_timestamp()}};
  data["histograms"] = histograms(store, rows);
  data["rows"] = std::move(rows);
  return data;
}

std::string render_leaderboard_page(const Store& store, const LeaderboardOptions& options) {
  Page page;
  page.title = options.tag.empty() ? "rbench leaderboard" : "rbench leaderboard: " + options.tag;
  const nlohmann::json data = leaderboard_page_data(store, options);
  page.subtitle = fmt::format("{} runs from {}, generated {}", data["rows"].size(), store.path().string(),
                              data["generated_at"].get<std::string>());
  page.script = assets::leaderboard_js;
  page.data_json = script_json(data);
  return render_page(page);
}

}  // namespace rbench::html
