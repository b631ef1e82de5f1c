#include <gtest/gtest.h>

#include "common/error.h"
#include "reports/compare.h"
#include "support/test_support.h"

namespace rbench {
namespace {

// Two runs of one suite whose per-item mean scores are given (two samples per item: 0.5 = one of two).
std::unique_ptr<Store> store_with_runs(const testing::TempDir& dir, const std::vector<double>& a,
                                       const std::vector<double>& b) {
  auto store = Store::open(dir / "r.db");
  const int64_t suite = store->put_suite({"s", "hash", {}});
  int run_index = 0;
  for (const auto* scores : {&a, &b}) {
    const std::string name = run_index == 0 ? "A" : "B";
    const int64_t model = store->put_model({name, "replay", "f", name, {}, {}, {}, ""});
    RunRecord run;
    run.run_id = name;
    run.k = 2;
    store->begin_run(run, model, suite);
    for (size_t item = 0; item < scores->size(); ++item) {
      for (int s = 0; s < 2; ++s) {
        SampleRecord sample;
        sample.run_id = name;
        sample.problem_id = "p" + std::to_string(item);
        sample.sample_index = s;
        sample.score = (*scores)[item] == 0.5 ? (s == 0 ? 1.0 : 0.0) : (*scores)[item];
        sample.verdict = sample.score == 1.0 ? "correct" : "incorrect";
        store->write_sample(sample);
      }
    }
    ++run_index;
  }
  return store;
}

// Expected values from Python:
//   A=[1,1,0,0,1,0.5]; B=[1,0,1,1,1,1]; d=[b-a for a,b in zip(A,B)]
//   statistics.mean(d)=0.25; statistics.stdev(d)/sqrt(6)=0.30956959368344517
//   statistics.correlation(A,B)=-0.41522739926869984
//   exact sign-flip p over all 2^6 sign patterns = 0.625
TEST(CompareRuns, PairedDifferenceMatchesIndependentComputation) {
  testing::TempDir dir;
  const auto store = store_with_runs(dir, {1, 1, 0, 0, 1, 0.5}, {1, 0, 1, 1, 1, 1});
  const PairedComparison c = compare_runs(*store, "A", "B", 20000, 3);
  EXPECT_EQ(c.items, 6);
  EXPECT_NEAR(c.delta, 0.25, 1e-12);
  EXPECT_NEAR(c.standard_error, 0.30956959368344517, 1e-12);
  EXPECT_NEAR(c.ci_low, -0.3567564036195525, 1e-9);
  EXPECT_NEAR(c.ci_high, 0.8567564036195525, 1e-9);
  EXPECT_NEAR(c.correlation, -0.41522739926869984, 1e-12);
  EXPECT_NEAR(c.minimum_detectable_effect, 2.801585 * 0.30956959368344517, 1e-6);
  EXPECT_NEAR(c.p_value, 0.625, 0.02);  // Monte Carlo estimate of the exact value
  ASSERT_EQ(c.flipped.size(), 3u);      // p1 (1 -> 0), p2 and p3 (0 -> 1)
  EXPECT_EQ(c.flipped[0].problem_id, "p1");
  EXPECT_NE(render_comparison(c).find("p2+"), std::string::npos);
}

TEST(CompareRuns, NamesUnknownRunsAndDisjointRuns) {
  testing::TempDir dir;
  const auto store = store_with_runs(dir, {1}, {});
  EXPECT_THROW(compare_runs(*store, "A", "nope"), UserError);
  EXPECT_THROW(compare_runs(*store, "A", "B"), UserError);
}

}  // namespace
}  // namespace rbench
