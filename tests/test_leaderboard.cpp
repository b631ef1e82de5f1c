#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "reports/leaderboard.h"
#include "support/test_support.h"

namespace rbench {
namespace {

struct SampleSpec {
  std::string problem;
  std::string extracted;
  std::string verdict;  // "correct" scores 1
  std::string finish_reason = "stop";
  std::string error = "";
};

void add_run(Store& store, const std::string& run_id, const std::string& suite_name, const std::string& prompt_template,
             int k, const std::vector<SampleSpec>& samples, const std::vector<std::string>& tags,
             const std::function<void(SampleRecord&)>& finish_sample) {
  const int64_t suite = store.put_suite({suite_name, suite_name + "-hash", {}});
  const int64_t model = store.put_model({run_id + "-model", "replay", "f", run_id, {}, {}, {}, ""});
  RunRecord run;
  run.run_id = run_id;
  run.k = k;
  run.prompt_template = prompt_template;
  run.tags = tags;
  store.begin_run(run, model, suite);
  std::map<std::string, int> next_index;
  for (const SampleSpec& spec : samples) {
    SampleRecord sample;
    sample.run_id = run_id;
    sample.problem_id = spec.problem;
    sample.sample_index = next_index[spec.problem]++;
    sample.extracted = spec.extracted;
    sample.verdict = spec.verdict;
    sample.score = spec.verdict == "correct" ? 1.0 : 0.0;
    sample.finish_reason = spec.finish_reason;
    sample.error = spec.error;
    sample.reasoning = "Wait, let me compute.";
    sample.answer = spec.extracted.empty() ? "" : "\\boxed{" + spec.extracted + "}";
    finish_sample(sample);
    store.write_sample(sample);
  }
  store.finish_run(run_id, "finished");
}

// "math-run" (k = 3, a \boxed{} prompt, priced): three problems
//   p1: "1/2" correct, "0.5" correct, "3" wrong, and a failed request -> avg 2/3, vote: the correct class (2 of 3)
//   p2: "7", "8", and nothing extracted (cut off)   -> avg 0, vote tied 1-1 -> "7" (first), wrong
//   p3: "5", "4" correct, "5"                        -> avg 1/3, vote "5" (2 of 3), wrong
// "gpu-run" (k = 1, no \boxed{}): q0 correct, q1 wrong, 36 GPU-seconds each and no recorded cost.
std::unique_ptr<Store> leaderboard_store(const testing::TempDir& dir) {
  auto store = Store::open(dir / "r.db");
  const std::vector<SampleSpec> math = {
      {"p1", "1/2", "correct"}, {"p1", "0.5", "correct"}, {"p1", "3", "incorrect"},
      {"p1", "", "error", "error", "timeout"}, {"p2", "7", "incorrect"}, {"p2", "8", "incorrect"},
      {"p2", "", "no_answer", "length"},        {"p3", "5", "incorrect"}, {"p3", "4", "correct"},
      {"p3", "5", "incorrect"}};
  add_run(*store, "math-run", "mathy", "{question}\nput your final answer within \\boxed{}.", 3, math, {"t1"},
          [](SampleRecord& sample) {
            const bool cut = sample.finish_reason == "length";
            sample.output_tokens = cut ? 200 : 100;
            sample.reasoning_tokens = cut ? 200 : 70;
            if (sample.error.empty()) sample.cost_usd = 0.01;
          });
  add_run(*store, "gpu-run", "plain", "{question}", 1, {{"q0", "A", "correct"}, {"q1", "B", "incorrect"}}, {},
          [](SampleRecord& sample) { sample.gpu_seconds = 36.0; });
  return store;
}

// Wilson intervals, as in test_statistics: wilson(1/3, 3, z) = (0.06149194472039632, 0.7923403991979523),
// wilson(0.5, 2, z) = (0.09453120573423074, 0.9054687942657693); statistics.stdev([2/3, 0, 1/3]) / math.sqrt(3)
// = 0.19245008972987526.
TEST(Leaderboard, RowsFromTheStore) {
  testing::TempDir dir;
  const auto store = leaderboard_store(dir);
  const auto rows = leaderboard_rows(*store);
  ASSERT_EQ(rows.size(), 2u);
  const LeaderboardRow& math = rows[0];  // by suite name
  EXPECT_EQ(math.run_id, "math-run");
  EXPECT_EQ(math.problems, 3);
  EXPECT_EQ(math.samples, 9);
  EXPECT_EQ(math.errors, 1);
  EXPECT_NEAR(math.avg_at_k, 1.0 / 3, 1e-15);
  EXPECT_NEAR(math.standard_error, 0.19245008972987526, 1e-15);
  EXPECT_EQ(math.ci_method, "wilson");
  EXPECT_NEAR(math.ci_low, 0.06149194472039632, 1e-12);
  EXPECT_NEAR(math.ci_high, 0.7923403991979523, 1e-12);
  EXPECT_NEAR(math.cons_at_k, 1.0 / 3, 1e-15);   // only p1's vote is right
  EXPECT_NEAR(math.vote_tie_rate, 1.0 / 3, 1e-15);  // p2
  EXPECT_NEAR(math.pass_at_k, 2.0 / 3, 1e-15);   // pass@3 of (3, 2), (3, 0), (3, 1)
  EXPECT_EQ(math.solved, 3.0);
  EXPECT_NEAR(math.truncated_rate, 1.0 / 9, 1e-15);
  EXPECT_NEAR(math.mean_output_tokens, 1000.0 / 9, 1e-12);
  EXPECT_NEAR(math.mean_reasoning_tokens, 760.0 / 9, 1e-12);
  EXPECT_NEAR(math.mean_answer_tokens, 240.0 / 9, 1e-12);
  ASSERT_TRUE(math.cost_usd.has_value());
  EXPECT_NEAR(*math.cost_usd, 0.09, 1e-12);
  EXPECT_NEAR(*math.cost_per_solved_usd, 0.03, 1e-12);
  EXPECT_EQ(math.cost_basis, "recorded");
  EXPECT_FALSE(math.gpu_seconds.has_value());
  EXPECT_EQ(math.trace.samples, 9);
  ASSERT_TRUE(math.trace.boxed_rate.has_value());
  EXPECT_NEAR(*math.trace.boxed_rate, 8.0 / 9, 1e-15);
  EXPECT_NEAR(math.trace.format_compliance_rate, 8.0 / 9, 1e-15);  // the cut-off sample has no answer
  EXPECT_NEAR(math.trace.reflections_per_1k_words, 1000.0 / 4, 1e-12);  // "Wait, let me compute."

  const LeaderboardRow& gpu = rows[1];
  EXPECT_NEAR(gpu.avg_at_k, 0.5, 1e-15);
  EXPECT_NEAR(gpu.ci_low, 0.09453120573423074, 1e-12);
  EXPECT_NEAR(gpu.ci_high, 0.9054687942657693, 1e-12);
  EXPECT_EQ(gpu.gpu_seconds, 72.0);
  EXPECT_FALSE(gpu.cost_usd.has_value());  // no price asked for
  EXPECT_EQ(gpu.cost_basis, "");
  EXPECT_FALSE(gpu.trace.boxed_rate.has_value());
}

TEST(Leaderboard, PricesGpuTimeAndFiltersByTag) {
  testing::TempDir dir;
  const auto store = leaderboard_store(dir);
  const auto rows = leaderboard_rows(*store, LeaderboardOptions{"", 2.0});
  const LeaderboardRow& gpu = rows[1];
  ASSERT_TRUE(gpu.cost_usd.has_value());
  EXPECT_NEAR(*gpu.cost_usd, 72.0 / 3600 * 2.0, 1e-15);
  EXPECT_NEAR(*gpu.cost_per_solved_usd, 0.04, 1e-15);  // one solved
  EXPECT_EQ(gpu.cost_basis, "gpu-hours");
  EXPECT_EQ(rows[0].cost_basis, "recorded");  // a recorded cost is never replaced
  LeaderboardOptions without_traces;
  without_traces.trace_metrics = false;
  const auto plain = leaderboard_rows(*store, without_traces);
  EXPECT_EQ(plain[0].trace.samples, 0);  // not computed: no text read
  EXPECT_EQ(plain[0].avg_at_k, rows[0].avg_at_k);
  EXPECT_EQ(plain[0].cons_at_k, rows[0].cons_at_k);
  const auto tagged = leaderboard_rows(*store, "t1");
  ASSERT_EQ(tagged.size(), 1u);
  EXPECT_EQ(tagged[0].run_id, "math-run");
}

TEST(Leaderboard, RendersEveryFormatFromTheSameRows) {
  testing::TempDir dir;
  const auto store = leaderboard_store(dir);
  const auto rows = leaderboard_rows(*store);
  const std::string table = render_leaderboard(rows, ReportFormat::table);
  EXPECT_NE(table.find("33.3 [6.1, 79.2]*"), std::string::npos) << table;
  EXPECT_NE(table.find("* Wilson interval"), std::string::npos);
  EXPECT_TRUE(render_leaderboard(rows, ReportFormat::markdown).starts_with("| model"));
  const std::string traces = render_trace_report(rows, ReportFormat::table);
  EXPECT_NE(traces.find("reflect/1k words"), std::string::npos);
  EXPECT_NE(traces.find("250.0"), std::string::npos) << traces;

  const std::string csv = render_leaderboard(rows, ReportFormat::csv);
  std::vector<std::string> lines;
  for (size_t start = 0; start < csv.size();) {
    const size_t end = csv.find('\n', start);
    lines.push_back(csv.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 3u);
  const auto commas = [](const std::string& line) { return std::count(line.begin(), line.end(), ','); };
  EXPECT_EQ(commas(lines[0]), commas(lines[1]));
  EXPECT_EQ(commas(lines[0]), commas(lines[2]));
  EXPECT_NE(lines[0].find("cons_at_k"), std::string::npos);
  EXPECT_NE(lines[0].find("trace_reflections_per_1k_words"), std::string::npos);
  EXPECT_EQ(render_trace_report(rows, ReportFormat::csv), csv);

  const auto json = nlohmann::json::parse(render_leaderboard(rows, ReportFormat::json));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["ci_method"], "wilson");
  EXPECT_NEAR(json[0]["trace"]["boxed_rate"].get<double>(), 8.0 / 9, 1e-12);
  EXPECT_TRUE(json[1]["trace"]["boxed_rate"].is_null());
  EXPECT_TRUE(json[1]["cost_usd"].is_null());
  EXPECT_EQ(json[1]["gpu_seconds"], 72.0);
}

TEST(Leaderboard, EmptyStoreAndBadFormat) {
  testing::TempDir dir;
  const auto store = Store::open(dir / "r.db");
  const auto rows = leaderboard_rows(*store);
  EXPECT_EQ(render_leaderboard(rows, ReportFormat::table), "no runs in the store\n");
  const std::string csv = render_leaderboard(rows, ReportFormat::csv);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1);  // the header alone
  EXPECT_EQ(render_leaderboard(rows, ReportFormat::json), "[]\n");
  EXPECT_THROW(parse_report_format("xml"), UserError);
}

TEST(Leaderboard, CommandLine) {
  testing::TempDir dir;
  leaderboard_store(dir);
  const std::string db = (dir / "r.db").string();
  const auto priced = testing::run_rbench({"report", "--db", db, "--format", "json", "--gpu-hour-price", "2"});
  ASSERT_EQ(priced.exit_code, 0) << priced.err;
  EXPECT_EQ(nlohmann::json::parse(priced.out)[1]["cost_basis"], "gpu-hours");
  const auto traces = testing::run_rbench({"report", "traces", "--db", db, "--tag", "t1"});
  ASSERT_EQ(traces.exit_code, 0) << traces.err;
  EXPECT_NE(traces.out.find("format %"), std::string::npos);
  EXPECT_EQ(traces.out.find("gpu-run"), std::string::npos);
  const auto bad = testing::run_rbench({"report", "--db", db, "--format", "xml"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown report format 'xml'"), std::string::npos);
}

}  // namespace
}  // namespace rbench
