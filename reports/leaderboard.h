#pragma once
// The leaderboard: one row per run (model x suite), computed from the store alone.
#include <optional>
#include <string>
#include <vector>

#include "harness/store/store.h"

namespace rbench {

struct LeaderboardRow {
  std::string run_id;
  std::string model;
  std::string backend;
  std::string suite;
  std::string status;
  int k = 0;
  int problems = 0;          // problems with at least one graded sample
  int samples = 0;           // graded samples (errors excluded)
  int errors = 0;            // samples whose request failed
  double avg_at_k = 0.0;     // mean over problems of the mean score of their samples (R1's pass@1)
  double standard_error = 0.0;  // question-level
  double pass_at_k = 0.0;    // unbiased pass@k at the run's k
  double truncated_rate = 0.0;  // graded samples that hit the token limit
  double mean_output_tokens = 0.0;
  double mean_reasoning_tokens = 0.0;
  std::optional<double> cost_usd;            // sum over samples with a known cost
  std::optional<double> cost_per_solved_usd;
};

std::vector<LeaderboardRow> leaderboard_rows(const Store& store, const std::string& tag = "");

enum class ReportFormat { table, markdown, csv, json };
ReportFormat parse_report_format(const std::string& name);  // throws UserError
std::string render_leaderboard(const std::vector<LeaderboardRow>& rows, ReportFormat format);

}  // namespace rbench
