// The published reference solutions pass the code scorer in the sandbox: HumanEval's canonical_solution
// (164) and MBPP's `code` (the 500 problems of the test split the suite loads), each as a fenced
// response, graded in parallel. An empty solution fails every problem. The LeetCode contest set has no
// reference solutions to try. End to end: `suites export humaneval --as-replay` and a replay run store
// correct verdicts with their grading details.
//
// By default a deterministic sample (every 4th problem) keeps ctest fast on two cores; RBENCH_FULL_CODE=1
// runs every problem (docs/code_scoring.md gives the full counts and times).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "harness/store/store.h"
#include "sandbox/sandbox.h"
#include "scorers/code_scorer.h"
#include "suites/suite.h"
#include "support/test_support.h"

namespace rbench {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::run_rbench;
using testing::TempDir;

constexpr size_t kSampleStride = 4;

// Upstream reference solutions that fail their own tests, and why (an empty list: none do).
const std::set<std::string> kBrokenHumanEvalSolutions = {};
const std::set<std::string> kBrokenMbppSolutions = {};

bool full_run() {
  const char* full = std::getenv("RBENCH_FULL_CODE");
  return full != nullptr && std::string(full) == "1";
}

class GoldSolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const sandbox::Capability capability = sandbox::probe();
    if (!capability.available) GTEST_SKIP() << "the sandbox cannot isolate here: " << capability.reason;
    if (!fs::exists(datasets_)) GTEST_SKIP() << datasets_ << " is absent (set RBENCH_SHARED)";
  }

  std::unique_ptr<Suite> open(const std::string& name) const {
    SuiteOptions options;
    options.data_dir = datasets_.string();
    return open_suite(name, options);
  }

  // The problems to try: all of them, or every kSampleStride-th.
  static std::vector<const Problem*> chosen(const Suite& suite) {
    std::vector<const Problem*> problems;
    const size_t stride = full_run() ? 1 : kSampleStride;
    for (size_t i = 0; i < suite.problems().size(); i += stride) problems.push_back(&suite.problems()[i]);
    return problems;
  }

  struct Outcome {
    std::set<std::string> failed;         // problem ids
    std::map<std::string, int> statuses;  // details.status -> count
    double seconds = 0;
  };

  // Grades one response per problem, `response(problem)`, on every hardware thread.
  static Outcome grade_all(const std::vector<const Problem*>& problems,
                           const std::function<std::string(const Problem&)>& response) {
    std::vector<std::string> responses;
    for (const Problem* problem : problems) responses.push_back(response(*problem));
    std::vector<Submission> submissions;
    for (size_t i = 0; i < problems.size(); ++i) submissions.push_back({"", responses[i], problems[i]->metadata});
    const auto scorer = make_scorer("code");
    const auto started = std::chrono::steady_clock::now();
    const std::vector<Verdict> verdicts = grade_in_parallel(*scorer, submissions);
    Outcome outcome;
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (size_t i = 0; i < verdicts.size(); ++i) {
      ++outcome.statuses[verdicts[i].details["status"].get<std::string>()];
      if (!verdicts[i].correct) outcome.failed.insert(problems[i]->id);
    }
    return outcome;
  }

  static std::string fenced(const std::string& code) { return "```python\n" + code + "\n```"; }

  // Every chosen problem passes except the known-broken ones, which must still fail (so the list stays true).
  static void expect_gold_passes(const std::string& suite, const std::vector<const Problem*>& problems,
                                 const Outcome& outcome, const std::set<std::string>& broken) {
    size_t expected_failures = 0;
    for (const Problem* problem : problems) {
      const bool should_fail = broken.contains(problem->id);
      expected_failures += should_fail;
      EXPECT_EQ(outcome.failed.contains(problem->id), should_fail) << suite << " " << problem->id;
    }
    std::string statuses;
    for (const auto& [status, count] : outcome.statuses) statuses += " " + status + "=" + std::to_string(count);
    std::printf("%s gold: %zu/%zu pass (%zu known broken), %.1f s on %u threads;%s\n", suite.c_str(),
                problems.size() - outcome.failed.size(), problems.size(), expected_failures, outcome.seconds,
                std::thread::hardware_concurrency(), statuses.c_str());
  }

  const fs::path datasets_ = testing::shared_dir() / "datasets";
};

TEST_F(GoldSolutionTest, HumanEvalCanonicalSolutionsPass) {
  const auto suite = open("humaneval");
  ASSERT_EQ(suite->problems().size(), 164u);
  const auto problems = chosen(*suite);
  const Outcome outcome = grade_all(problems, [](const Problem& problem) { return fenced(problem.solution); });
  expect_gold_passes("humaneval", problems, outcome, kBrokenHumanEvalSolutions);
}

TEST_F(GoldSolutionTest, MbppReferenceCodePasses) {
  const auto suite = open("mbpp");
  ASSERT_EQ(suite->problems().size(), 500u);
  const auto problems = chosen(*suite);
  const Outcome outcome = grade_all(problems, [](const Problem& problem) { return fenced(problem.solution); });
  expect_gold_passes("mbpp", problems, outcome, kBrokenMbppSolutions);
}

TEST_F(GoldSolutionTest, EmptySolutionsFailEverything) {
  for (const std::string name : {"humaneval", "mbpp"}) {
    const auto suite = open(name);
    const auto problems = chosen(*suite);
    // The stub's body, or a program that defines nothing.
    const Outcome outcome =
        grade_all(problems, [&](const Problem&) { return fenced(name == "humaneval" ? "    pass" : "pass"); });
    EXPECT_EQ(outcome.failed.size(), problems.size()) << name;
    std::printf("%s empty solution: %zu/%zu fail, %.1f s\n", name.c_str(), outcome.failed.size(), problems.size(),
                outcome.seconds);
  }
}

TEST_F(GoldSolutionTest, LeetCodeContestSetHasNoReferenceSolutions) {
  const auto suite = open("leetcode_contest");
  for (const auto& problem : suite->problems()) EXPECT_TRUE(problem.solution.empty()) << problem.id;
  const CommandResult exported = run_rbench({"suites", "export", "leetcode_contest", "--as-replay", "--limit", "1"},
                                            {{"RBENCH_DATA", datasets_.string()}});
  EXPECT_EQ(exported.exit_code, 2);
  EXPECT_NE(exported.err.find("has no reference solution to replay"), std::string::npos) << exported.err;
}

TEST_F(GoldSolutionTest, ReplayOfHumanEvalReferenceScoresEverythingWithDetails) {
  TempDir dir;
  const std::map<std::string, std::string> env = {{"RBENCH_DATA", datasets_.string()}};
  const CommandResult exported = run_rbench({"suites", "export", "humaneval", "--as-replay", "--limit", "6"}, env);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  testing::write_file(dir / "reference.jsonl", exported.out);
  const std::string db = (dir / "results.db").string();
  const CommandResult run = run_rbench({"run", "--model", "replay:" + (dir / "reference.jsonl").string(), "--suite",
                                        "humaneval", "--limit", "6", "--db", db, "--concurrency", "2"},
                                       env);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  const auto store = Store::open(db, StoreMode::read_only);
  ASSERT_EQ(store->runs().size(), 1u);
  const auto samples = store->samples(store->runs()[0].run_id);
  ASSERT_EQ(samples.size(), 6u);
  for (const auto& sample : samples) {
    EXPECT_EQ(sample.verdict, "correct") << sample.problem_id << ": " << sample.grading;
    const auto grading = nlohmann::json::parse(sample.grading);
    EXPECT_EQ(grading["status"], "passed") << sample.grading;
    EXPECT_EQ(grading["tests_passed"], 1);
    EXPECT_FALSE(sample.extracted.empty());
  }
}

}  // namespace
}  // namespace rbench
