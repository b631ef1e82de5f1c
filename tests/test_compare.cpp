#include <gtest/gtest.h>

#include "common/error.h"
#include "reports/compare.h"
#include "support/test_support.h"

namespace rbench {
namespace {

// A run to store: each item's sample scores (item i is problem "p<i>"), 1.0 graded "correct".
struct RunSpec {
  std::string id;
  std::string model;
  std::vector<std::vector<double>> samples;
  std::vector<std::string> tags = {};
  std::string status = "finished";
};

int64_t add_suite(Store& store, const std::string& name, int items, const std::vector<nlohmann::json>& metadata = {}) {
  SuiteRecord suite{name, name + "-hash", {}};
  for (int i = 0; i < items; ++i) {
    const nlohmann::json meta = metadata.empty() ? nlohmann::json::object() : metadata[i];
    suite.problems.push_back({"p" + std::to_string(i), "1", meta});
  }
  return store.put_suite(suite);
}

void add_run(Store& store, int64_t suite_id, const RunSpec& spec) {
  const int64_t model = store.put_model({spec.model, "replay", "f", spec.model, {}, {}, {}, ""});
  RunRecord run;
  run.run_id = spec.id;
  run.k = static_cast<int>(spec.samples.empty() ? 1 : spec.samples[0].size());
  run.tags = spec.tags;
  store.begin_run(run, model, suite_id);
  for (size_t item = 0; item < spec.samples.size(); ++item) {
    for (size_t s = 0; s < spec.samples[item].size(); ++s) {
      SampleRecord sample;
      sample.run_id = spec.id;
      sample.problem_id = "p" + std::to_string(item);
      sample.sample_index = static_cast<int>(s);
      sample.score = spec.samples[item][s];
      sample.verdict = sample.score == 1.0 ? "correct" : "incorrect";
      store.write_sample(sample);
    }
  }
  store.finish_run(spec.id, spec.status);
}

// Per-item means as two samples each (0.5 = one of two), or one sample each with `single`.
std::vector<std::vector<double>> samples_of(const std::vector<double>& means, bool single = false) {
  std::vector<std::vector<double>> samples;
  for (double mean : means) {
    if (single) {
      samples.push_back({mean});
    } else {
      samples.push_back(mean == 0.5 ? std::vector<double>{1.0, 0.0} : std::vector<double>{mean, mean});
    }
  }
  return samples;
}

std::unique_ptr<Store> store_with_runs(const testing::TempDir& dir, const std::vector<double>& a,
                                       const std::vector<double>& b) {
  auto store = Store::open(dir / "r.db");
  const int64_t suite = add_suite(*store, "s", static_cast<int>(std::max(a.size(), b.size())));
  add_run(*store, suite, {"A", "A", samples_of(a)});
  add_run(*store, suite, {"B", "B", samples_of(b)});
  return store;
}

// Expected values from Python:
//   A=[1,1,0,0,1,0.5]; B=[1,0,1,1,1,1]; d=[b-a for a,b in zip(A,B)]
//   statistics.mean(d)=0.25; statistics.stdev(d)/sqrt(6)=0.30956959368344517
//   statistics.correlation(A,B)=-0.41522739926869984
//   95% CI: 0.25 -+ statistics.NormalDist().inv_cdf(0.975) * SE = (-0.35674525432825055, 0.8567452543282505)
//   exact sign-flip p over all 2^6 sign patterns = 0.625
//   exact paired bootstrap p over all 6^6 resamples of d - mean(d) = 0.4758659122085048 (see test_statistics)
TEST(CompareRuns, PairedDifferenceMatchesIndependentComputation) {
  testing::TempDir dir;
  const auto store = store_with_runs(dir, {1, 1, 0, 0, 1, 0.5}, {1, 0, 1, 1, 1, 1});
  CompareOptions options;
  options.resamples = 20000;
  options.seed = 3;
  const PairedComparison c = compare_runs(*store, "A", "B", options);
  EXPECT_EQ(c.items, 6);
  EXPECT_NEAR(c.delta, 0.25, 1e-12);
  EXPECT_NEAR(c.standard_error, 0.30956959368344517, 1e-12);
  EXPECT_NEAR(c.ci_low, -0.35674525432825055, 1e-12);
  EXPECT_NEAR(c.ci_high, 0.8567452543282505, 1e-12);
  EXPECT_NEAR(c.correlation, -0.41522739926869984, 1e-12);
  EXPECT_NEAR(c.minimum_detectable_effect, 2.801585 * 0.30956959368344517, 1e-6);
  EXPECT_NEAR(c.p_value, 0.625, 0.02);  // Monte Carlo estimate of the exact value
  EXPECT_EQ(c.p_method, "paired sign-flip");
  EXPECT_NEAR(c.bootstrap_p, 0.4758659122085048, 0.02);
  EXPECT_FALSE(c.mcnemar_p.has_value());  // two samples per item: not binary pairs
  EXPECT_FALSE(c.clustered.has_value());
  EXPECT_NE(c.cluster_note.find("no item metadata field"), std::string::npos);
  ASSERT_EQ(c.flipped.size(), 3u);      // p1 (1 -> 0), p2 and p3 (0 -> 1)
  EXPECT_EQ(c.flipped[0].problem_id, "p1");
  EXPECT_NE(render_comparison(c).find("p2+"), std::string::npos);
}

// 20 items, one sample each: 4 both right, 1 both wrong, 3 only A, 12 only B.
// McNemar: min(1, 2 * sum(math.comb(15, i) for i in range(4)) / 2**15) = 0.03515625
TEST(CompareRuns, BinarySingleSamplesUseMcNemarExact) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  std::vector<double> a, b;
  for (int i = 0; i < 20; ++i) {
    a.push_back(i < 4 || (i >= 5 && i < 8) ? 1.0 : 0.0);
    b.push_back(i < 4 || i >= 8 ? 1.0 : 0.0);
  }
  const int64_t suite = add_suite(*store, "s", 20);
  add_run(*store, suite, {"A", "A", samples_of(a, true)});
  add_run(*store, suite, {"B", "B", samples_of(b, true)});
  const PairedComparison c = compare_runs(*store, "A", "B");
  EXPECT_EQ(c.only_a_correct, 3);
  EXPECT_EQ(c.only_b_correct, 12);
  ASSERT_TRUE(c.mcnemar_p.has_value());
  EXPECT_NEAR(*c.mcnemar_p, 0.03515625, 1e-12);
  EXPECT_EQ(c.p_value, *c.mcnemar_p);
  EXPECT_EQ(c.p_method, "McNemar exact");
  EXPECT_EQ(c.resamples, kDefaultResamples);
}

// A=[1,1,0,1,0,0,1,1,0,1,1,0]; B=[1,1,1,1,1,0,1,0,1,1,1,1]; subjects g=[0,0,1,1,2,2,3,3,4,4,5,5]
//   d = B - A, m = mean(d) = 0.25; residual sums R_g = sum_{i in g} d_i - 2m
//   math.sqrt(6/5 * sum(r*r) / 12**2) = 0.1707825127659933; t = tq('0.975', 5) (see test_statistics)
//   CI = (-0.18901042516058952, 0.6890104251605895); exact sign-flip over the 2^6 cluster sums = 0.375
//   MDE = (tq('0.975',5) + tq('0.8',5)) * SE = 0.5960524225484581
TEST(CompareRuns, ClustersByProblemMetadata) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  std::vector<nlohmann::json> metadata;
  for (int i = 0; i < 12; ++i) metadata.push_back({{"subject", "s" + std::to_string(i / 2)}, {"level", i % 3}});
  const int64_t suite = add_suite(*store, "s", 12, metadata);
  add_run(*store, suite, {"A", "A", samples_of({1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0}, true)});
  add_run(*store, suite, {"B", "B", samples_of({1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1}, true)});
  CompareOptions options;
  options.resamples = 40000;
  const PairedComparison c = compare_runs(*store, "A", "B", options);
  ASSERT_TRUE(c.clustered.has_value());
  EXPECT_EQ(c.clustered->field, "subject");
  EXPECT_EQ(c.clustered->clusters, 6);
  EXPECT_NEAR(c.clustered->standard_error, 0.1707825127659933, 1e-12);
  EXPECT_EQ(c.clustered->degrees_of_freedom, 5.0);
  EXPECT_NEAR(c.clustered->ci_low, -0.18901042516058952, 1e-9);
  EXPECT_NEAR(c.clustered->ci_high, 0.6890104251605895, 1e-9);
  EXPECT_EQ(c.p_method, "cluster sign-flip");  // binary, but clustered: McNemar assumes independent items
  EXPECT_NEAR(c.p_value, 0.375, 0.01);
  EXPECT_NEAR(c.minimum_detectable_effect, 0.5960524225484581, 1e-9);
  EXPECT_NE(render_comparison(c).find("clustered  by subject (6 clusters)"), std::string::npos);

  // an explicit field; "level" has 3 groups, which auto would refuse but an explicit request gets
  options.cluster_by = "level";
  EXPECT_EQ(compare_runs(*store, "A", "B", options).clustered->clusters, 3);
  options.cluster_by = "none";
  EXPECT_FALSE(compare_runs(*store, "A", "B", options).clustered.has_value());
  options.cluster_by = "repository";
  try {
    compare_runs(*store, "A", "B", options);
    FAIL() << "a field no item has";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("problem p0 of suite s has no metadata field 'repository'"), std::string::npos)
        << e.what();
  }
}

TEST(CompareRuns, AutoClusteringNeedsEnoughGroups) {
  testing::TempDir dir;
  auto store = Store::open(dir / "r.db");
  std::vector<nlohmann::json> metadata;
  for (int i = 0; i < 8; ++i) metadata.push_back({{"contest", i < 4 ? "AIME I" : "AIME II"}});
  const int64_t suite = add_suite(*store, "s", 8, metadata);
  add_run(*store, suite, {"A", "A", samples_of({1, 0, 1, 0, 1, 0, 1, 0}, true)});
  add_run(*store, suite, {"B", "B", samples_of({1, 1, 1, 0, 1, 1, 1, 1}, true)});
  const PairedComparison c = compare_runs(*store, "A", "B");
  EXPECT_FALSE(c.clustered.has_value());
  EXPECT_NE(c.cluster_note.find("'contest' forms only 2 groups"), std::string::npos) << c.cluster_note;
  CompareOptions one_group;
  one_group.cluster_by = "contest";
  EXPECT_EQ(compare_runs(*store, "A", "B", one_group).clustered->clusters, 2);
}

TEST(CompareRuns, NamesUnknownRunsAndDisjointRuns) {
  testing::TempDir dir;
  const auto store = store_with_runs(dir, {1}, {});
  EXPECT_THROW(compare_runs(*store, "A", "nope"), UserError);
  try {
    compare_runs(*store, "A", "B");
    FAIL() << "no shared items";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("share no graded item"), std::string::npos);
  }
}

// Two suites, each run by an "old" and a "new" model (tagged), plus a suite only "new" has.
std::unique_ptr<Store> store_with_two_models(const testing::TempDir& dir) {
  auto store = Store::open(dir / "r.db");
  const int64_t math = add_suite(*store, "math", 4);
  const int64_t code = add_suite(*store, "code", 4);
  const int64_t extra = add_suite(*store, "extra", 4);
  add_run(*store, math, {"old-math", "old", samples_of({1, 0, 0, 1}), {"v1"}});
  add_run(*store, code, {"old-code", "old", samples_of({0, 0, 0, 1}), {"v1"}});
  add_run(*store, math, {"new-math", "new", samples_of({1, 1, 1, 1}), {"v2"}});
  add_run(*store, code, {"new-code", "new", samples_of({1, 1, 0.5, 1}), {"v2"}});
  add_run(*store, extra, {"new-extra", "new", samples_of({1, 1, 1, 1}), {"v2"}});
  add_run(*store, math, {"new-math-running", "new", samples_of({0, 0, 0, 0}), {"v2"}, "incomplete"});
  return store;
}

TEST(CompareSelections, PairsSuitesAndAdjustsWithHolm) {
  testing::TempDir dir;
  const auto store = store_with_two_models(dir);
  for (const auto& [a, b] : {std::pair{"v1", "v2"}, std::pair{"old", "new"}}) {
    const ComparisonSet set = compare_selections(*store, a, b);
    ASSERT_EQ(set.comparisons.size(), 2u);
    EXPECT_EQ(set.comparisons[0].suite, "code");  // by suite name
    EXPECT_EQ(set.comparisons[1].run_b, "new-math");  // the finished run, not the later incomplete one
    const std::vector<double> holm = holm_adjusted({set.comparisons[0].p_value, set.comparisons[1].p_value});
    EXPECT_EQ(*set.comparisons[0].holm_p_value, holm[0]);
    EXPECT_EQ(*set.comparisons[1].holm_p_value, holm[1]);
    ASSERT_EQ(set.unpaired.size(), 1u);
    EXPECT_EQ(set.unpaired[0].suite, "extra");
    EXPECT_FALSE(set.unpaired[0].on_side_a);
    const std::string text = render_comparisons(set);
    EXPECT_NE(text.find("Holm p"), std::string::npos);
    EXPECT_NE(text.find("not compared: extra (only B has it: run new-extra)"), std::string::npos) << text;
  }
  CompareOptions only_math;
  only_math.suite = "math";
  const ComparisonSet math = compare_selections(*store, "v1", "v2", only_math);
  ASSERT_EQ(math.comparisons.size(), 1u);
  EXPECT_FALSE(math.comparisons[0].holm_p_value.has_value());
  only_math.suite = "nope";
  EXPECT_THROW(compare_selections(*store, "v1", "v2", only_math), UserError);
}

TEST(CompareSelections, ResolvesRunsTagsModelsAndPrefixes) {
  testing::TempDir dir;
  const auto store = store_with_two_models(dir);
  EXPECT_EQ(resolve_runs(*store, "old-math").size(), 1u);          // a run id
  EXPECT_EQ(resolve_runs(*store, "new-math-running")[0].status, "incomplete");  // a run id is taken as it is
  EXPECT_EQ(resolve_runs(*store, "v2").size(), 3u);                // a tag: latest finished per suite
  EXPECT_EQ(resolve_runs(*store, "old").size(), 2u);               // a model name
  EXPECT_EQ(resolve_runs(*store, "new-e")[0].run_id, "new-extra");  // a unique prefix
  const auto message = [&](const std::string& selector) {
    try {
      resolve_runs(*store, selector);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("new-").find("ambiguous"), std::string::npos);
  EXPECT_NE(message("zzz").find("'zzz' is no run id, tag or model name"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_THROW(compare_selections(*store, "old-math", "new-extra"), UserError);  // different suites

  // a tag whose only run never finished
  RunRecord run;
  run.run_id = "lonely";
  run.tags = {"wip"};
  store->begin_run(run, store->put_model({"m", "replay", "f", "m", {}, {}, {}, ""}), add_suite(*store, "s", 1));
  EXPECT_NE(message("wip").find("tag wip names no finished run: lonely (running)"), std::string::npos)
      << message("wip");
}

}  // namespace
}  // namespace rbench
