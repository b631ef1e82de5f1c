#include "reports/gate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace rbench {

namespace {

// Lists in the Markdown stop here: a CI comment with thousands of ids helps no one.
constexpr size_t kMostListedItems = 100;

void check_options(const GateOptions& options) {
  if (!(options.margin > 0.0 && options.margin < 1.0)) {
    throw UserError(fmt::format("--margin must lie in (0, 1), on the score scale (0.02 is 2 points); got {}",
                                options.margin));
  }
  if (!(options.alpha > 0.0 && options.alpha < 0.5)) {
    throw UserError(fmt::format("--alpha must lie in (0, 0.5); got {}", options.alpha));
  }
}

std::string points(double fraction) { return fmt::format("{:+.1f}", 100 * fraction); }
std::string verdict_word(bool passed) { return passed ? "pass" : "REGRESSION"; }

// A cell of a Markdown table: no line breaks, pipes escaped.
std::string markdown_cell(const std::string& text) {
  std::string cell;
  for (char c : text) {
    if (c == '|') {
      cell += "\\|";
    } else {
      cell += (c == '\n' || c == '\r') ? ' ' : c;
    }
  }
  return cell;
}

// An id as inline code; a backtick inside would end the span early.
std::string markdown_code(std::string text) {
  std::replace(text.begin(), text.end(), '`', '\'');
  return "`" + markdown_cell(text) + "`";
}

std::string standard_error_note(const PairedComparison& c) {
  if (c.clustered) {
    return fmt::format("SE clustered by {} ({} clusters), t with {:.0f} df", c.clustered->field, c.clustered->clusters,
                       c.clustered->degrees_of_freedom);
  }
  return "SE over items, normal";
}

std::string item_list(const std::vector<const FlippedItem*>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kMostListedItems; ++i) {
    out += (i ? ", " : "") + markdown_code(items[i]->problem_id);
  }
  if (items.size() > kMostListedItems) out += fmt::format(" and {} more", items.size() - kMostListedItems);
  return out;
}

}  // namespace

bool GateResult::passed() const {
  return !suites.empty() && std::all_of(suites.begin(), suites.end(), [](const SuiteGate& s) { return s.passed; });
}

GateResult run_gate(const Store& store, const std::string& baseline, const std::string& candidate,
                    const GateOptions& options) {
  check_options(options);
  ComparisonSet set = compare_selections(store, baseline, candidate, options.compare);
  GateResult result;
  result.baseline = baseline;
  result.candidate = candidate;
  result.margin = options.margin;
  result.alpha = options.alpha;
  for (const auto& run : set.unpaired) {
    if (run.on_side_a) {
      throw UserError(fmt::format("the baseline '{}' has suite {} (run {}) but the candidate '{}' has no finished run "
                                  "of it: the candidate's run of that suite failed or was not made",
                                  baseline, run.suite, run.run_id, candidate));
    }
    result.ungated.push_back(run);
  }
  for (auto& comparison : set.comparisons) {
    if (comparison.items < 2) {
      throw UserError(fmt::format("suite {}: runs {} and {} share {} graded item; a paired test needs at least two",
                                  comparison.suite, comparison.run_a, comparison.run_b, comparison.items));
    }
    SuiteGate suite;
    suite.test = non_inferiority_test(comparison.delta, comparison.inference_standard_error(),
                                      comparison.inference_degrees_of_freedom(), options.margin, options.alpha);
    suite.comparison = std::move(comparison);
    suite.passed = suite.test.p_value < options.alpha;
    result.suites.push_back(std::move(suite));
  }
  return result;
}

std::string render_gate_summary(const GateResult& r) {
  std::string out =
      fmt::format("gate: {} ({} vs baseline {}; non-inferiority margin {:.1f} points, one-sided alpha {})\n",
                  r.passed() ? "PASS" : "REGRESSION", r.candidate, r.baseline, 100 * r.margin, r.alpha);
  for (const auto& suite : r.suites) {
    const PairedComparison& c = suite.comparison;
    out += fmt::format(
        "  {:<14} {:>5} items  baseline {:.1f}%  candidate {:.1f}%  delta {}  lower bound {} vs -{:.1f}  p {:.4f}  "
        "{}  ({})\n",
        c.suite, c.items, 100 * c.mean_a, 100 * c.mean_b, points(c.delta), points(suite.test.lower_bound),
        100 * r.margin, suite.test.p_value, verdict_word(suite.passed), standard_error_note(c));
  }
  for (const auto& run : r.ungated) {
    out += fmt::format("  not gated: {} (run {}) has no baseline\n", run.suite, run.run_id);
  }
  return out;
}

std::string render_gate_markdown(const GateResult& r) {
  const int confidence = static_cast<int>(std::lround(100 * (1 - r.alpha)));
  std::string out = fmt::format("## rbench gate: {}\n\n", r.passed() ? "PASS" : "REGRESSION");
  out += fmt::format(
      "Candidate {} against baseline {}: one-sided paired non-inferiority test on the shared items, "
      "margin {:.1f} points, α = {}{}.\n\n",
      markdown_code(r.candidate), markdown_code(r.baseline), 100 * r.margin, r.alpha,
      r.suites.size() > 1 ? ", every suite at α" : "");
  out += fmt::format("| suite | items | baseline | candidate | δ (points) | lower {}% bound | margin | p | "
                     "verdict |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
                     confidence);
  for (const auto& suite : r.suites) {
    const PairedComparison& c = suite.comparison;
    out += fmt::format("| {} | {} | {:.1f}% | {:.1f}% | {} | {} | -{:.1f} | {:.4f} | {} |\n",
                       markdown_cell(c.suite), c.items, 100 * c.mean_a, 100 * c.mean_b, points(c.delta),
                       points(suite.test.lower_bound), 100 * r.margin, suite.test.p_value, suite.passed ? "pass" : "**regression**");
  }
  for (const auto& suite : r.suites) {
    const PairedComparison& c = suite.comparison;
    std::vector<const FlippedItem*> lost, gained;
    for (const auto& item : c.flipped) (item.score_b < item.score_a ? lost : gained).push_back(&item);
    out += fmt::format("\n### {}\n\nBaseline run {} ({}), candidate run {} ({}); {}.\n\n", markdown_cell(c.suite),
                       markdown_code(c.run_a), markdown_cell(c.model_a), markdown_code(c.run_b),
                       markdown_cell(c.model_b), standard_error_note(c));
    out += fmt::format("- correct → wrong ({}): {}\n", lost.size(), lost.empty() ? "none" : item_list(lost));
    out += fmt::format("- wrong → correct ({}): {}\n", gained.size(), gained.empty() ? "none" : item_list(gained));
  }
  for (const auto& run : r.ungated) {
    out += fmt::format("\nNot gated: {} (run {}) has no baseline run.\n", markdown_cell(run.suite),
                       markdown_code(run.run_id));
  }
  return out;
}

}  // namespace rbench
