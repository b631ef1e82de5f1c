#include "reports/leaderboard.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "reports/statistics.h"
#include "scorers/metrics.h"

namespace rbench {

namespace {

// The vote key of every correct sample. Correct answers are all equivalent to the gold, so they form one
// class however they are written ("1/2", "0.5"); other answers vote by their exact extracted text. No
// extracted answer starts with a control character, so this key never meets one.
const std::string kCorrectClass = "\x1f" "correct";

// One run's samples as the store streams them, problem by problem (they come ordered by problem).
class RunTally {
 public:
  RunTally(const RunRecord& run, const LeaderboardOptions& options)
      : run_(run), options_(options), traces_(asks_for_boxed_answer(run.prompt_template)) {}

  void add(const SampleView& sample) {
    if (!sample.error.empty()) {
      ++errors_;
      return;
    }
    if (sample.problem_id != problem_) {
      close_problem();
      problem_.assign(sample.problem_id);
    }
    const bool correct = sample.verdict == "correct";
    ++problem_samples_;
    problem_correct_ += correct;
    problem_score_ += sample.score;
    votes_.push_back(correct ? kCorrectClass : std::string(sample.extracted));

    ++samples_;
    truncated_ += sample.finish_reason == "length";
    output_tokens_ += sample.output_tokens;
    reasoning_tokens_ += sample.reasoning_tokens;
    answer_tokens_ += std::max<int64_t>(0, sample.output_tokens - sample.reasoning_tokens);
    add_cost(sample);
    if (options_.trace_metrics) traces_.add(sample);
  }

  LeaderboardRow finish() {
    close_problem();
    LeaderboardRow row;
    row.run_id = run_.run_id;
    row.model = run_.model_name;
    row.backend = run_.backend;
    row.suite = run_.suite_name;
    row.status = run_.status;
    row.k = run_.k;
    row.problems = static_cast<int>(per_question_.size());
    row.samples = samples_;
    row.errors = errors_;
    const MeanWithError mean = question_mean(per_question_);
    row.avg_at_k = mean.mean;
    row.standard_error = mean.standard_error;
    const MeanInterval interval = question_interval(per_question_);
    row.ci_low = interval.low;
    row.ci_high = interval.high;
    row.ci_method = interval.method;
    row.solved = solved_;
    if (row.problems > 0) {
      row.cons_at_k = static_cast<double>(voted_correct_) / row.problems;
      row.vote_tie_rate = static_cast<double>(vote_ties_) / row.problems;
      row.pass_at_k = pass_sum_ / row.problems;
    }
    if (samples_ > 0) {
      row.truncated_rate = static_cast<double>(truncated_) / samples_;
      row.mean_output_tokens = static_cast<double>(output_tokens_) / samples_;
      row.mean_reasoning_tokens = static_cast<double>(reasoning_tokens_) / samples_;
      row.mean_answer_tokens = static_cast<double>(answer_tokens_) / samples_;
    }
    if (any_gpu_time_) row.gpu_seconds = gpu_seconds_;
    if (recorded_cost_ || gpu_priced_cost_) {
      row.cost_usd = cost_;
      if (solved_ > 0) row.cost_per_solved_usd = cost_ / solved_;
      row.cost_basis = recorded_cost_ && gpu_priced_cost_ ? "mixed" : recorded_cost_ ? "recorded" : "gpu-hours";
    }
    row.trace = traces_.summary();
    return row;
  }

 private:
  // Recorded cost first (the price table at run time); else GPU time at the rate asked for.
  void add_cost(const SampleView& sample) {
    if (sample.gpu_seconds) {
      any_gpu_time_ = true;
      gpu_seconds_ += *sample.gpu_seconds;
    }
    if (sample.cost_usd) {
      cost_ += *sample.cost_usd;
      recorded_cost_ = true;
    } else if (sample.gpu_seconds && options_.dollars_per_gpu_hour) {
      cost_ += *sample.gpu_seconds / 3600.0 * *options_.dollars_per_gpu_hour;
      gpu_priced_cost_ = true;
    }
  }

  void close_problem() {
    if (problem_samples_ == 0) return;
    per_question_.push_back(problem_score_ / problem_samples_);
    solved_ += problem_score_;
    pass_sum_ += pass_at_k(problem_samples_, problem_correct_, std::min(run_.k, problem_samples_));
    const MajorityVote vote = majority_vote(votes_, std::equal_to<std::string>());
    voted_correct_ += vote.answer == kCorrectClass;
    vote_ties_ += vote.tied;
    problem_samples_ = problem_correct_ = 0;
    problem_score_ = 0.0;
    votes_.clear();
  }

  const RunRecord& run_;
  const LeaderboardOptions& options_;
  TraceAccumulator traces_;
  // the problem being read
  std::string problem_;
  int problem_samples_ = 0, problem_correct_ = 0;
  double problem_score_ = 0.0;
  std::vector<std::string> votes_;
  // the run so far
  std::vector<double> per_question_;
  double solved_ = 0.0, pass_sum_ = 0.0;
  int voted_correct_ = 0, vote_ties_ = 0;
  int samples_ = 0, errors_ = 0, truncated_ = 0;
  int64_t output_tokens_ = 0, reasoning_tokens_ = 0, answer_tokens_ = 0;
  double gpu_seconds_ = 0.0, cost_ = 0.0;
  bool any_gpu_time_ = false, recorded_cost_ = false, gpu_priced_cost_ = false;
};

// ---- rendering ----

std::string money(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "-"; }
std::string percent(double fraction) { return fmt::format("{:.1f}", 100 * fraction); }
std::string optional_percent(const std::optional<double>& fraction) { return fraction ? percent(*fraction) : "-"; }

constexpr const char* kWilsonMark = "*";

std::string mean_with_interval(const LeaderboardRow& row) {
  return fmt::format("{:.1f} [{:.1f}, {:.1f}]{}", 100 * row.avg_at_k, 100 * row.ci_low, 100 * row.ci_high,
                     row.ci_method == "wilson" ? kWilsonMark : "");
}

using Table = std::vector<std::vector<std::string>>;

Table leaderboard_cells(const std::vector<LeaderboardRow>& rows) {
  Table table;
  table.push_back({"model", "suite", "k", "problems", "avg@k % [95% CI]", "cons@k %", "pass@k %", "trunc %",
                   "think tok", "answer tok", "errors", "$ total", "$/solved", "status", "run"});
  for (const auto& row : rows) {
    table.push_back({row.model, row.suite, std::to_string(row.k), std::to_string(row.problems),
                     mean_with_interval(row), percent(row.cons_at_k), percent(row.pass_at_k),
                     percent(row.truncated_rate), fmt::format("{:.0f}", row.mean_reasoning_tokens),
                     fmt::format("{:.0f}", row.mean_answer_tokens), std::to_string(row.errors), money(row.cost_usd),
                     money(row.cost_per_solved_usd), row.status, row.run_id});
  }
  return table;
}

Table trace_cells(const std::vector<LeaderboardRow>& rows) {
  Table table;
  table.push_back({"model", "suite", "samples", "think tok", "think chars", "trunc %", "closed %", "boxed %",
                   "format %", "mixed %", "CJK %", "reflect/1k words", "run"});
  for (const auto& row : rows) {
    const TraceSummary& trace = row.trace;
    table.push_back({row.model, row.suite, std::to_string(row.samples),
                     fmt::format("{:.0f}", row.mean_reasoning_tokens), fmt::format("{:.0f}", trace.mean_think_chars),
                     percent(row.truncated_rate), percent(trace.think_closed_rate), optional_percent(trace.boxed_rate),
                     percent(trace.format_compliance_rate), percent(trace.language_mixed_rate),
                     percent(trace.cjk_share), fmt::format("{:.1f}", trace.reflections_per_1k_words), row.run_id});
  }
  return table;
}

// Display width, counting each UTF-8 code point once (enough for "±").
size_t width(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xc0) != 0x80;
  return n;
}

std::string render_text_table(const Table& table, bool markdown) {
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

std::string interval_note(const std::vector<LeaderboardRow>& rows) {
  const bool any_wilson =
      std::any_of(rows.begin(), rows.end(), [](const auto& row) { return row.ci_method == "wilson"; });
  std::string note = "95% CI: mean ± 1.96 question-level SE";
  if (any_wilson) note += fmt::format("; {} Wilson interval (under {} problems, or at/near 0% or 100%)", kWilsonMark,
                                      kWilsonBelowQuestions);
  return note + "\n";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

nlohmann::ordered_json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

// Every field of a row, in declaration order: the one list both JSON and CSV are made from.
nlohmann::ordered_json row_json(const LeaderboardRow& row) {
  const TraceSummary& trace = row.trace;
  return {{"run_id", row.run_id},
          {"model", row.model},
          {"backend", row.backend},
          {"suite", row.suite},
          {"status", row.status},
          {"k", row.k},
          {"problems", row.problems},
          {"samples", row.samples},
          {"errors", row.errors},
          {"avg_at_k", row.avg_at_k},
          {"standard_error", row.standard_error},
          {"ci_low", row.ci_low},
          {"ci_high", row.ci_high},
          {"ci_method", row.ci_method},
          {"cons_at_k", row.cons_at_k},
          {"vote_tie_rate", row.vote_tie_rate},
          {"pass_at_k", row.pass_at_k},
          {"solved", row.solved},
          {"truncated_rate", row.truncated_rate},
          {"mean_output_tokens", row.mean_output_tokens},
          {"mean_reasoning_tokens", row.mean_reasoning_tokens},
          {"mean_answer_tokens", row.mean_answer_tokens},
          {"gpu_seconds", optional_json(row.gpu_seconds)},
          {"cost_usd", optional_json(row.cost_usd)},
          {"cost_per_solved_usd", optional_json(row.cost_per_solved_usd)},
          {"cost_basis", row.cost_basis},
          {"trace",
           {{"samples", trace.samples},
            {"mean_think_chars", trace.mean_think_chars},
            {"think_closed_rate", trace.think_closed_rate},
            {"boxed_rate", optional_json(trace.boxed_rate)},
            {"format_compliance_rate", trace.format_compliance_rate},
            {"cjk_share", trace.cjk_share},
            {"language_mixed_rate", trace.language_mixed_rate},
            {"reflections_per_1k_words", trace.reflections_per_1k_words}}}};
}

std::string render_json(const std::vector<LeaderboardRow>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& row : rows) out.push_back(row_json(row));
  return out.dump(2) + "\n";
}

// Nested objects become prefixed columns: trace.cjk_share -> trace_cjk_share.
void flatten(const nlohmann::ordered_json& object, const std::string& prefix,
             std::vector<std::pair<std::string, const nlohmann::ordered_json*>>& columns) {
  for (const auto& [key, value] : object.items()) {
    if (value.is_object()) {
      flatten(value, prefix + key + "_", columns);
    } else {
      columns.emplace_back(prefix + key, &value);
    }
  }
}

std::string csv_value(const nlohmann::ordered_json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return csv_field(value.get<std::string>());
  if (value.is_number_float()) return fmt::format("{}", value.get<double>());
  return value.dump();
}

std::string render_csv(const std::vector<LeaderboardRow>& rows) {
  std::vector<std::pair<std::string, const nlohmann::ordered_json*>> header;
  const nlohmann::ordered_json blank = row_json(LeaderboardRow{});
  flatten(blank, "", header);
  std::string out;
  for (size_t i = 0; i < header.size(); ++i) out += (i ? "," : "") + header[i].first;
  out += "\n";
  for (const auto& row : rows) {
    const nlohmann::ordered_json object = row_json(row);
    std::vector<std::pair<std::string, const nlohmann::ordered_json*>> columns;
    flatten(object, "", columns);
    for (size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + csv_value(*columns[i].second);
    out += "\n";
  }
  return out;
}

std::string render_view(const std::vector<LeaderboardRow>& rows, ReportFormat format,
                        const std::function<Table(const std::vector<LeaderboardRow>&)>& cells) {
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

}  // namespace

std::vector<LeaderboardRow> leaderboard_rows(const Store& store, const LeaderboardOptions& options) {
  std::vector<LeaderboardRow> rows;
  for (const auto& run : store.runs(options.tag)) {
    RunTally tally(run, options);
    store.for_each_sample(run.run_id, [&](const SampleView& sample) { tally.add(sample); },
                          options.trace_metrics ? SampleTexts::read : SampleTexts::skip);
    rows.push_back(tally.finish());
  }
  std::stable_sort(rows.begin(), rows.end(), [](const LeaderboardRow& a, const LeaderboardRow& b) {
    return a.suite != b.suite ? a.suite < b.suite : a.avg_at_k > b.avg_at_k;
  });
  return rows;
}

std::vector<LeaderboardRow> leaderboard_rows(const Store& store, const std::string& tag) {
  return leaderboard_rows(store, LeaderboardOptions{tag, std::nullopt, true});
}

ReportFormat parse_report_format(const std::string& name) {
  if (name == "table") return ReportFormat::table;
  if (name == "markdown" || name == "md") return ReportFormat::markdown;
  if (name == "csv") return ReportFormat::csv;
  if (name == "json") return ReportFormat::json;
  throw UserError(fmt::format("unknown report format '{}'; use table, markdown, csv or json", name));
}

std::string render_leaderboard(const std::vector<LeaderboardRow>& rows, ReportFormat format) {
  std::string out = render_view(rows, format, leaderboard_cells);
  if ((format == ReportFormat::table || format == ReportFormat::markdown) && !rows.empty()) {
    out += (format == ReportFormat::markdown ? "\n" : "") + interval_note(rows);
  }
  return out;
}

std::string render_trace_report(const std::vector<LeaderboardRow>& rows, ReportFormat format) {
  return render_view(rows, format, trace_cells);
}

}  // namespace rbench
