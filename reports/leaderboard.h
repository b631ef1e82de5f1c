#pragma once
// The leaderboard: one row per run (model x suite), computed from the store alone. Every leaderboard number
// any report shows (table, Markdown, CSV, JSON, HTML) comes from these rows.
#include <optional>
#include <string>
#include <vector>

#include "harness/store/store.h"
#include "reports/trace_metrics.h"

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
  double ci_low = 0.0;       // 95% interval of avg@k over questions
  double ci_high = 0.0;
  std::string ci_method;     // "normal" (mean +- 1.96 SE) or "wilson" (few problems, or at/near 0 or 1)
  double cons_at_k = 0.0;    // majority vote over each problem's samples (see docs/statistics.md)
  double vote_tie_rate = 0.0;  // problems whose vote was tied (won by the class seen first)
  double pass_at_k = 0.0;    // unbiased pass@k at the run's k
  double solved = 0.0;       // sum of the graded samples' scores
  double truncated_rate = 0.0;  // graded samples that hit the token limit
  double mean_output_tokens = 0.0;
  double mean_reasoning_tokens = 0.0;  // think tokens
  double mean_answer_tokens = 0.0;     // output tokens after the reasoning
  std::optional<double> gpu_seconds;   // total measured GPU time, where samples report it
  std::optional<double> cost_usd;      // sum over samples with a known cost
  std::optional<double> cost_per_solved_usd;  // cost_usd / solved
  std::string cost_basis;    // "recorded" (price table at run time), "gpu-hours" (GPU time x --gpu-hour-price),
                             // "mixed", or "" when unknown
  TraceSummary trace;
};

struct LeaderboardOptions {
  std::string tag;  // only runs with this tag; "" for all
  // Prices samples that have GPU time but no recorded cost (self-hosted runs): $ per GPU-hour.
  std::optional<double> dollars_per_gpu_hour;
  // The trace metrics read every reasoning text, most of the work on a large store: views that do not show
  // them (the table and Markdown leaderboards) turn them off, leaving LeaderboardRow::trace empty.
  bool trace_metrics = true;
};

std::vector<LeaderboardRow> leaderboard_rows(const Store& store, const LeaderboardOptions& options);
std::vector<LeaderboardRow> leaderboard_rows(const Store& store, const std::string& tag = "");

enum class ReportFormat { table, markdown, csv, json };
ReportFormat parse_report_format(const std::string& name);  // throws UserError
// CSV and JSON hold every field of the rows; the table and Markdown show the leaderboard's columns.
std::string render_leaderboard(const std::vector<LeaderboardRow>& rows, ReportFormat format);
// The same rows with the reasoning-trace columns in the table and Markdown.
std::string render_trace_report(const std::vector<LeaderboardRow>& rows, ReportFormat format);

}  // namespace rbench
