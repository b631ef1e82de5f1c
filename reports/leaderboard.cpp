#include "reports/leaderboard.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "scorers/metrics.h"

namespace rbench {

namespace {

struct ProblemTally {
  int samples = 0;
  int correct = 0;
  double score = 0.0;
};

LeaderboardRow row_for(const RunRecord& run, const std::vector<SampleRecord>& samples) {
  LeaderboardRow row;
  row.run_id = run.run_id;
  row.model = run.model_name;
  row.backend = run.backend;
  row.suite = run.suite_name;
  row.status = run.status;
  row.k = run.k;
  std::map<std::string, ProblemTally> tallies;
  double cost = 0.0;
  bool any_cost = false;
  int64_t output_tokens = 0, reasoning_tokens = 0;
  int truncated = 0;
  for (const auto& sample : samples) {
    if (!sample.error.empty()) {
      ++row.errors;
      continue;
    }
    ProblemTally& tally = tallies[sample.problem_id];
    ++tally.samples;
    tally.score += sample.score;
    if (sample.verdict == "correct") ++tally.correct;
    ++row.samples;
    output_tokens += sample.output_tokens;
    reasoning_tokens += sample.reasoning_tokens;
    if (sample.finish_reason == "length") ++truncated;
    if (sample.cost_usd) {
      cost += *sample.cost_usd;
      any_cost = true;
    }
  }
  row.problems = static_cast<int>(tallies.size());
  std::vector<double> per_question;
  double pass_sum = 0.0;
  int solved = 0;
  for (const auto& [id, tally] : tallies) {
    per_question.push_back(tally.score / tally.samples);
    pass_sum += pass_at_k(tally.samples, tally.correct, std::min(run.k, tally.samples));
    solved += tally.correct;
  }
  const MeanWithError mean = question_mean(per_question);
  row.avg_at_k = mean.mean;
  row.standard_error = mean.standard_error;
  row.pass_at_k = row.problems > 0 ? pass_sum / row.problems : 0.0;
  if (row.samples > 0) {
    row.truncated_rate = static_cast<double>(truncated) / row.samples;
    row.mean_output_tokens = static_cast<double>(output_tokens) / row.samples;
    row.mean_reasoning_tokens = static_cast<double>(reasoning_tokens) / row.samples;
  }
  if (any_cost) {
    row.cost_usd = cost;
    if (solved > 0) row.cost_per_solved_usd = cost / solved;
  }
  return row;
}

std::string money(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "-"; }

std::string percent_with_error(const LeaderboardRow& row) {
  return fmt::format("{:.1f} ± {:.1f}", 100 * row.avg_at_k, 100 * 1.96 * row.standard_error);
}

std::vector<std::vector<std::string>> cells(const std::vector<LeaderboardRow>& rows) {
  std::vector<std::vector<std::string>> table;
  table.push_back({"model", "suite", "k", "problems", "avg@k % (95% CI)", "pass@k %", "trunc %", "out tok",
                   "errors", "$ total", "$/solved", "status", "run"});
  for (const auto& row : rows) {
    table.push_back({row.model, row.suite, std::to_string(row.k), std::to_string(row.problems),
                     percent_with_error(row), fmt::format("{:.1f}", 100 * row.pass_at_k),
                     fmt::format("{:.1f}", 100 * row.truncated_rate), fmt::format("{:.0f}", row.mean_output_tokens),
                     std::to_string(row.errors), money(row.cost_usd), money(row.cost_per_solved_usd), row.status,
                     row.run_id});
  }
  return table;
}

// Display width, counting each UTF-8 code point once (enough for "±").
size_t width(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xc0) != 0x80;
  return n;
}

std::string render_text_table(const std::vector<std::vector<std::string>>& table, bool markdown) {
  std::vector<size_t> widths(table.front().size(), 3);
  for (const auto& line : table) {
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], width(line[i]));
  }
  std::string out;
  for (size_t r = 0; r < table.size(); ++r) {
    std::string line = markdown ? "|" : "";
    for (size_t i = 0; i < table[r].size(); ++i) {
      const std::string pad(widths[i] - width(table[r][i]), ' ');
      line += markdown ? " " + table[r][i] + pad + " |" : table[r][i] + pad + "  ";
    }
    while (!markdown && line.ends_with(' ')) line.pop_back();
    out += line + "\n";
    if (r == 0) {
      std::string rule = markdown ? "|" : "";
      for (size_t w : widths) rule += markdown ? std::string(w + 2, '-') + "|" : std::string(w, '-') + "  ";
      while (!markdown && rule.ends_with(' ')) rule.pop_back();
      out += rule + "\n";
    }
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string render_json(const std::vector<LeaderboardRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    out.push_back({{"run_id", row.run_id}, {"model", row.model}, {"backend", row.backend}, {"suite", row.suite},
                   {"status", row.status}, {"k", row.k}, {"problems", row.problems}, {"samples", row.samples},
                   {"errors", row.errors}, {"avg_at_k", row.avg_at_k}, {"standard_error", row.standard_error},
                   {"pass_at_k", row.pass_at_k}, {"truncated_rate", row.truncated_rate},
                   {"mean_output_tokens", row.mean_output_tokens},
                   {"mean_reasoning_tokens", row.mean_reasoning_tokens}, {"cost_usd", optional_json(row.cost_usd)},
                   {"cost_per_solved_usd", optional_json(row.cost_per_solved_usd)}});
  }
  return out.dump(2) + "\n";
}

std::string render_csv(const std::vector<LeaderboardRow>& rows) {
  std::string out =
      "run_id,model,backend,suite,status,k,problems,samples,errors,avg_at_k,standard_error,pass_at_k,"
      "truncated_rate,mean_output_tokens,mean_reasoning_tokens,cost_usd,cost_per_solved_usd\n";
  const auto number = [](const std::optional<double>& value) { return value ? fmt::format("{}", *value) : ""; };
  for (const auto& row : rows) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", row.run_id, csv_field(row.model),
                       row.backend, csv_field(row.suite), row.status, row.k, row.problems, row.samples, row.errors,
                       row.avg_at_k, row.standard_error, row.pass_at_k, row.truncated_rate, row.mean_output_tokens,
                       row.mean_reasoning_tokens, number(row.cost_usd), number(row.cost_per_solved_usd));
  }
  return out;
}

}  // namespace

std::vector<LeaderboardRow> leaderboard_rows(const Store& store, const std::string& tag) {
  std::vector<LeaderboardRow> rows;
  for (const auto& run : store.runs(tag)) rows.push_back(row_for(run, store.samples(run.run_id)));
  std::stable_sort(rows.begin(), rows.end(), [](const LeaderboardRow& a, const LeaderboardRow& b) {
    return a.suite != b.suite ? a.suite < b.suite : a.avg_at_k > b.avg_at_k;
  });
  return rows;
}

ReportFormat parse_report_format(const std::string& name) {
  if (name == "table") return ReportFormat::table;
  if (name == "markdown" || name == "md") return ReportFormat::markdown;
  if (name == "csv") return ReportFormat::csv;
  if (name == "json") return ReportFormat::json;
  throw UserError(fmt::format("unknown report format '{}'; use table, markdown, csv or json", name));
}

std::string render_leaderboard(const std::vector<LeaderboardRow>& rows, ReportFormat format) {
  switch (format) {
    case ReportFormat::json:
      return render_json(rows);
    case ReportFormat::csv:
      return render_csv(rows);
    case ReportFormat::markdown:
      return render_text_table(cells(rows), true);
    case ReportFormat::table:
      break;
  }
  if (rows.empty()) return "no runs in the store\n";
  return render_text_table(cells(rows), false);
}

}  // namespace rbench
