#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "reports/gate.h"
#include "support/test_support.h"

namespace rbench {
namespace {

constexpr int kItems = 200;

std::string item_id(int i) { return fmt::format("p{:03d}", i); }

// One sample per item. The baseline solves items 0..159; the candidate the same, except that it loses the
// first `lost` of them and gains the first `gained` of items 160..199.
std::vector<double> baseline_scores() {
  std::vector<double> scores(kItems, 0.0);
  std::fill(scores.begin(), scores.begin() + 160, 1.0);
  return scores;
}

std::vector<double> candidate_scores(int lost, int gained) {
  std::vector<double> scores = baseline_scores();
  std::fill(scores.begin(), scores.begin() + lost, 0.0);
  std::fill(scores.begin() + 160, scores.begin() + 160 + gained, 1.0);
  return scores;
}

void add_run(Store& store, const std::string& suite_name, const std::string& run_id, const std::string& tag,
             const std::vector<double>& scores, int first_item = 0) {
  const int64_t suite = store.put_suite({suite_name, suite_name + "-hash", {}});
  const int64_t model = store.put_model({"model-" + tag, "replay", "f", tag, {}, {}, {}, ""});
  RunRecord run;
  run.run_id = run_id;
  run.tags = {tag};
  store.begin_run(run, model, suite);
  std::vector<SampleRecord> samples;
  for (size_t i = 0; i < scores.size(); ++i) {
    SampleRecord sample;
    sample.run_id = run_id;
    sample.problem_id = item_id(first_item + static_cast<int>(i));
    sample.score = scores[i];
    sample.verdict = scores[i] == 1.0 ? "correct" : "incorrect";
    samples.push_back(sample);
  }
  EXPECT_EQ(store.write_samples(samples), static_cast<int>(samples.size()));
  store.finish_run(run_id, "finished");
}

GateOptions margin(double value) {
  GateOptions options;
  options.margin = value;
  return options;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

// Independent values (Python, statistics.NormalDist N):
//   d = [-1]*lost + [1]*gained + [0]*(200 - lost - gained); m = mean(d); se = stdev(d) / sqrt(200)
//   lower = m - N.inv_cdf(0.95) * se; p = 1 - N.cdf((m + 0.05) / se)
//   lost 2, gained 1:  m -0.005, se 0.008674748197003014, lower -0.019268691034731146, p 1.0658486404580003e-07
//   lost 20, gained 2: m -0.09,  se 0.022628749446390924, lower -0.1272209806002722,  p 0.9614413589080825
TEST(Gate, PassesWhenTheLowerBoundClearsTheMargin) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  add_run(*store, "s", "base", "baseline", baseline_scores());
  add_run(*store, "s", "cand", "candidate", candidate_scores(2, 1));
  const GateResult result = run_gate(*store, "baseline", "candidate", margin(0.05));
  ASSERT_EQ(result.suites.size(), 1u);
  const SuiteGate& suite = result.suites[0];
  EXPECT_NEAR(suite.comparison.delta, -0.005, 1e-15);
  EXPECT_NEAR(suite.comparison.standard_error, 0.008674748197003014, 1e-15);
  EXPECT_NEAR(suite.test.lower_bound, -0.019268691034731146, 1e-13);
  EXPECT_NEAR(suite.test.p_value, 1.0658486404580003e-07, 1e-12);
  EXPECT_TRUE(result.passed());
  const std::string markdown = render_gate_markdown(result);
  EXPECT_NE(markdown.find("## rbench gate: PASS"), std::string::npos);
  EXPECT_NE(markdown.find("- correct → wrong (2): `p000`, `p001`"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("- wrong → correct (1): `p160`"), std::string::npos);
  EXPECT_NE(markdown.find("| s | 200 | 80.0% | 79.5% | -0.5 | -1.9 | -5.0 |"), std::string::npos) << markdown;
  EXPECT_NE(render_gate_summary(result).find("gate: PASS"), std::string::npos);
}

TEST(Gate, FailsOnARegression) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  add_run(*store, "s", "base", "baseline", baseline_scores());
  add_run(*store, "s", "cand", "candidate", candidate_scores(20, 2));
  const GateResult result = run_gate(*store, "base", "cand", margin(0.05));
  EXPECT_NEAR(result.suites[0].test.lower_bound, -0.1272209806002722, 1e-13);
  EXPECT_NEAR(result.suites[0].test.p_value, 0.9614413589080825, 1e-12);
  EXPECT_FALSE(result.passed());
  const std::string markdown = render_gate_markdown(result);
  EXPECT_NE(markdown.find("## rbench gate: REGRESSION"), std::string::npos);
  EXPECT_NE(markdown.find("**regression**"), std::string::npos);
  EXPECT_NE(markdown.find("- correct → wrong (20): "), std::string::npos);
}

// Each of two suites: lost 6, gained 1 -> p = 0.028575650071108072 (as above) < 0.05: each suite passes at
// alpha with no multiplicity adjustment (an intersection-union test), so the gate passes; a third suite
// that regresses fails it.
TEST(Gate, EverySuiteIsTestedAtAlpha) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  for (const std::string suite : {"algebra", "geometry"}) {
    add_run(*store, suite, "base-" + suite, "baseline", baseline_scores());
    add_run(*store, suite, "cand-" + suite, "candidate", candidate_scores(6, 1));
  }
  const GateResult result = run_gate(*store, "baseline", "candidate", margin(0.05));
  ASSERT_EQ(result.suites.size(), 2u);
  for (const SuiteGate& suite : result.suites) {
    EXPECT_NEAR(suite.test.p_value, 0.028575650071108072, 1e-12);
    EXPECT_TRUE(suite.test.non_inferior);
    EXPECT_TRUE(suite.passed);
  }
  EXPECT_TRUE(result.passed());
  EXPECT_NE(render_gate_markdown(result).find("every suite at α"), std::string::npos);

  add_run(*store, "calculus", "base-calculus", "baseline", baseline_scores());
  add_run(*store, "calculus", "cand-calculus", "candidate", candidate_scores(20, 0));
  const GateResult three = run_gate(*store, "baseline", "candidate", margin(0.05));
  ASSERT_EQ(three.suites.size(), 3u);
  EXPECT_FALSE(three.passed());
}

TEST(Gate, SuitesOnlyTheCandidateHasAreNotGated) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  add_run(*store, "s", "base", "baseline", baseline_scores());
  add_run(*store, "s", "cand", "candidate", baseline_scores());
  add_run(*store, "new-suite", "cand-new", "candidate", baseline_scores());
  const GateResult result = run_gate(*store, "baseline", "candidate", margin(0.05));
  EXPECT_TRUE(result.passed());
  ASSERT_EQ(result.ungated.size(), 1u);
  EXPECT_EQ(result.ungated[0].suite, "new-suite");
  EXPECT_NE(render_gate_markdown(result).find("Not gated: new-suite"), std::string::npos);
}

TEST(Gate, EveryBadInputIsAClearError) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  add_run(*store, "s", "base", "baseline", baseline_scores());
  add_run(*store, "s", "cand", "candidate", baseline_scores());
  add_run(*store, "s", "disjoint", "elsewhere", {1, 0}, 500);  // items p500, p501: none shared
  add_run(*store, "s", "single", "one-item", {1}, 0);          // shares only p000
  add_run(*store, "other", "base-other", "baseline", baseline_scores());
  const auto gate = [&](const std::string& baseline, const std::string& candidate, GateOptions options) {
    return error_of([&] { run_gate(*store, baseline, candidate, options); });
  };
  EXPECT_NE(gate("base", "cand", margin(-0.01)).find("--margin must lie in (0, 1)"), std::string::npos);
  EXPECT_NE(gate("base", "cand", margin(0)).find("--margin"), std::string::npos);
  EXPECT_NE(gate("base", "cand", margin(2)).find("0.02 is 2 points"), std::string::npos);
  GateOptions bad_alpha = margin(0.05);
  bad_alpha.alpha = 0.7;
  EXPECT_NE(gate("base", "cand", bad_alpha).find("--alpha must lie in (0, 0.5)"), std::string::npos);
  EXPECT_NE(gate("nope", "cand", margin(0.05)).find("'nope' is no run id, tag or model name"), std::string::npos);
  EXPECT_NE(gate("base", "disjoint", margin(0.05)).find("share no graded item"), std::string::npos);
  EXPECT_NE(gate("base", "single", margin(0.05)).find("share 1 graded item; a paired test needs at least two"),
            std::string::npos);
  EXPECT_NE(gate("baseline", "candidate", margin(0.05)).find("has suite other (run base-other) but the candidate"),
            std::string::npos);
}

// ---- the command line and the nightly pipeline ----

TEST(GateCommand, ExitCodesAndMarkdown) {
  testing::TempDir dir;
  {
    auto store = Store::open(dir / "r.db");
    add_run(*store, "s", "base", "baseline", baseline_scores());
    add_run(*store, "s", "good", "good", candidate_scores(2, 1));
    add_run(*store, "s", "bad", "bad", candidate_scores(20, 2));
  }
  const std::string db = (dir / "r.db").string();
  const std::string markdown = (dir / "gate.md").string();
  const auto pass = testing::run_rbench({"gate", "--db", db, "--baseline", "baseline", "--candidate", "good",
                                         "--margin", "0.05", "--markdown", markdown});
  EXPECT_EQ(pass.exit_code, 0) << pass.err;
  EXPECT_NE(pass.out.find("gate: PASS"), std::string::npos);
  EXPECT_NE(testing::read_file(markdown).find("rbench gate: PASS"), std::string::npos);

  const auto regression = testing::run_rbench({"gate", "--db", db, "--baseline", "base", "--candidate", "bad",
                                               "--margin", "0.05", "--markdown", markdown});
  EXPECT_EQ(regression.exit_code, 1) << regression.err;
  EXPECT_NE(testing::read_file(markdown).find("correct → wrong (20)"), std::string::npos);

  const auto unknown = testing::run_rbench({"gate", "--db", db, "--baseline", "gone", "--candidate", "bad",
                                            "--margin", "0.05"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("'gone' is no run id"), std::string::npos);
  const auto negative = testing::run_rbench({"gate", "--db", db, "--baseline", "base", "--candidate", "bad",
                                             "--margin=-0.1"});
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_NE(negative.err.find("--margin must lie in (0, 1)"), std::string::npos) << negative.err;
  const auto unwritable = testing::run_rbench({"gate", "--db", db, "--baseline", "base", "--candidate", "good",
                                               "--margin", "0.05", "--markdown", "/nonexistent/dir/gate.md"});
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_NE(unwritable.err.find("cannot write /nonexistent/dir/gate.md"), std::string::npos);
  const auto missing_db = testing::run_rbench({"gate", "--db", (dir / "none.db").string(), "--baseline", "a",
                                               "--candidate", "b", "--margin", "0.05"});
  EXPECT_EQ(missing_db.exit_code, 2);
}

struct ScriptResult {
  int exit_code = -1;
  std::string summary;
};

// Runs ci/nightly.sh on a 20-problem arith replay against `db`, with the rbench built beside the tests.
ScriptResult run_nightly(const testing::TempDir& dir, const std::string& db, const std::string& replay) {
  const std::string summary = (dir / "summary.md").string();
  const std::string command = fmt::format(
      "RBENCH='{}' RBENCH_DB='{}' NIGHTLY_MODEL='replay:{}' NIGHTLY_SAMPLES=1 NIGHTLY_LIMIT=20 MARGIN=0.1 "
      "NIGHTLY_DATE=2026-01-02 SUMMARY='{}' bash '{}' > '{}' 2>&1",
      testing::rbench_binary(), db, replay, summary, (testing::source_dir() / "ci" / "nightly.sh").string(),
      (dir / "nightly.log").string());
  const int status = std::system(command.c_str());
  ScriptResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.summary = testing::read_file(summary);
  return result;
}

// The reference completions of the first 20 arith problems; with `wrong` of them answering -1 instead.
std::string write_replay(const testing::TempDir& dir, const std::string& name, int wrong) {
  const auto exported =
      testing::run_rbench({"suites", "export", "arith", "--as-replay", "--samples", "1", "--limit", "20"});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  std::istringstream lines(exported.out);
  std::string line, replay;
  for (int i = 0; std::getline(lines, line); ++i) {
    nlohmann::json completion = nlohmann::json::parse(line);
    if (i < wrong) completion["content"] = "The answer is $\\boxed{-1}$.";
    replay += completion.dump() + "\n";
  }
  const std::string path = (dir / name).string();
  testing::write_file(path, replay);
  return path;
}

TEST(NightlyPipeline, RunsGatesAndWritesTheSummary) {
  testing::TempDir dir;
  const std::string reference = write_replay(dir, "reference.jsonl", 0);
  const std::string worse = write_replay(dir, "worse.jsonl", 10);
  const auto baseline_into = [&](const std::string& db) {
    const auto run = testing::run_rbench({"run", "--model", "replay:" + reference, "--suite", "arith", "--samples",
                                          "1", "--limit", "20", "--db", db, "--tag", "nightly-baseline"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  };

  const std::string good_db = (dir / "good.db").string();
  baseline_into(good_db);
  const ScriptResult pass = run_nightly(dir, good_db, reference);
  EXPECT_EQ(pass.exit_code, 0) << testing::read_file(dir / "nightly.log");
  EXPECT_NE(pass.summary.find("## rbench gate: PASS"), std::string::npos) << pass.summary;
  EXPECT_NE(pass.summary.find("`nightly-2026-01-02`"), std::string::npos);

  const std::string bad_db = (dir / "bad.db").string();
  baseline_into(bad_db);
  const ScriptResult regression = run_nightly(dir, bad_db, worse);
  EXPECT_EQ(regression.exit_code, 1) << testing::read_file(dir / "nightly.log");
  EXPECT_NE(regression.summary.find("correct → wrong (10)"), std::string::npos) << regression.summary;

  const ScriptResult no_baseline = run_nightly(dir, (dir / "empty.db").string(), reference);
  EXPECT_EQ(no_baseline.exit_code, 2);
  EXPECT_NE(no_baseline.summary.find("## rbench nightly: ERROR"), std::string::npos);
  EXPECT_NE(no_baseline.summary.find("'nightly-baseline' is no run id"), std::string::npos) << no_baseline.summary;

  const ScriptResult broken_model = run_nightly(dir, good_db, (dir / "missing.jsonl").string());
  EXPECT_EQ(broken_model.exit_code, 2);
  EXPECT_NE(broken_model.summary.find("did not finish"), std::string::npos) << broken_model.summary;
}

}  // namespace
}  // namespace rbench
