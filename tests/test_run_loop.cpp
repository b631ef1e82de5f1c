// End to end through the rbench binary: suite -> backend -> scorer -> store -> report,
// including a run SIGKILLed midway and resumed, bad inputs, and a backend that is down.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "common/hash.h"
#include "harness/store/store.h"
#include "support/fake_openai_server.h"
#include "support/test_support.h"

namespace rbench {
namespace {

using testing::BackgroundProcess;
using testing::CommandResult;
using testing::FakeCompletion;
using testing::FakeOpenAIServer;
using testing::run_rbench;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Writes the arith reference solutions as a replay file through the CLI.
std::string export_reference(const TempDir& dir, int limit, int samples) {
  const CommandResult exported = run_rbench(
      {"suites", "export", "arith", "--as-replay", "--limit", std::to_string(limit), "-k", std::to_string(samples)});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  const auto path = (dir / "reference.jsonl").string();
  testing::write_file(path, exported.out);
  return path;
}

nlohmann::json report_json(const std::string& db) {
  const CommandResult report = run_rbench({"report", "--db", db, "--format", "json"});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  return nlohmann::json::parse(report.out);
}

// A deterministic stand-in model: its answer depends only on the prompt and the per-sample seed.
FakeCompletion deterministic_answer(const nlohmann::json& request) {
  const std::string digest = sha256_hex(request["messages"].dump() + request.value("seed", nlohmann::json()).dump());
  const int value = std::stoi(digest.substr(0, 4), nullptr, 16) % 60;
  FakeCompletion completion;
  completion.reasoning = "thinking about " + digest.substr(0, 8);
  completion.content = "So the answer is \\boxed{" + std::to_string(value) + "}.";
  completion.completion_tokens = 40 + value;
  return completion;
}

std::vector<std::string> comparable_rows(const std::string& db) {
  const auto store = Store::open(db, StoreMode::read_only);
  std::vector<std::string> rows;
  for (const auto& run : store->runs()) {
    for (const auto& s : store->samples(run.run_id)) {
      rows.push_back(nlohmann::json{s.run_id, s.problem_id, s.sample_index, s.prompt, s.reasoning, s.answer,
                                    s.extracted, s.verdict, s.score, s.finish_reason, s.input_tokens,
                                    s.cached_input_tokens, s.output_tokens, s.reasoning_tokens, s.error}
                         .dump());
    }
  }
  return rows;
}

size_t stored_samples(const std::string& db) {
  try {
    return comparable_rows(db).size();
  } catch (const std::exception&) {
    return 0;  // not created yet
  }
}

TEST(RunLoop, ReplayRunIsGradedStoredAndReported) {
  TempDir dir;
  const std::string replay = export_reference(dir, 10, 2);
  const std::string db = (dir / "results.db").string();
  const CommandResult run = run_rbench({"run", "--model", "replay:" + replay, "--suite", "arith", "--limit", "10",
                                        "--samples", "2", "--db", db, "--tag", "smoke"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(contains(run.err, "20/20")) << run.err;
  const nlohmann::json rows = report_json(db);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["model"], "arith-reference");
  EXPECT_EQ(rows[0]["problems"], 10);
  EXPECT_EQ(rows[0]["samples"], 20);
  EXPECT_DOUBLE_EQ(rows[0]["avg_at_k"].get<double>(), 1.0);
  EXPECT_EQ(rows[0]["status"], "finished");

  const auto store = Store::open(db, StoreMode::read_only);
  const auto runs = store->runs("smoke");
  ASSERT_EQ(runs.size(), 1u);
  const auto samples = store->samples(runs[0].run_id);
  ASSERT_EQ(samples.size(), 20u);
  EXPECT_FALSE(samples[0].reasoning.empty());
  EXPECT_EQ(samples[0].verdict, "correct");
  EXPECT_TRUE(contains(samples[0].prompt, "Please reason step by step"));
}

TEST(RunLoop, RerunningResumesAndNeverDuplicates) {
  TempDir dir;
  const std::string replay = export_reference(dir, 6, 3);
  const std::string db = (dir / "results.db").string();
  const std::vector<std::string> base = {"run", "--model", "replay:" + replay, "--limit", "6", "--db", db};
  auto first_args = base;
  first_args.insert(first_args.end(), {"--samples", "2"});
  ASSERT_EQ(run_rbench(first_args).exit_code, 0);
  EXPECT_EQ(stored_samples(db), 12u);

  const CommandResult again = run_rbench(first_args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.err, "12 stored before, 0 now")) << again.err;
  EXPECT_EQ(stored_samples(db), 12u);

  // More samples extend the same run.
  auto more_args = base;
  more_args.insert(more_args.end(), {"--samples", "3"});
  const CommandResult more = run_rbench(more_args);
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_TRUE(contains(more.err, "12 stored before, 6 now")) << more.err;
  const auto store = Store::open(db, StoreMode::read_only);
  ASSERT_EQ(store->runs().size(), 1u);
  EXPECT_EQ(store->runs()[0].k, 3);

  // A changed generation config is a different run.
  auto hotter = first_args;
  hotter.insert(hotter.end(), {"--temperature", "1.0"});
  ASSERT_EQ(run_rbench(hotter).exit_code, 0);
  EXPECT_EQ(Store::open(db, StoreMode::read_only)->runs().size(), 2u);
}

TEST(RunLoop, KilledRunResumesToExactlyTheRowsOfAnUninterruptedRun) {
  FakeOpenAIServer server(deterministic_answer);
  TempDir dir;
  const std::string model = "openai:fake-reasoner@" + server.base_url();
  const auto args_for = [&](const std::string& db) {
    return std::vector<std::string>{"run", "--model", model, "--limit", "12", "--samples", "3", "--concurrency",
                                    "3", "--db", db, "--seed", "7"};
  };
  const std::string reference_db = (dir / "reference.db").string();
  const CommandResult reference = run_rbench(args_for(reference_db));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const auto reference_rows = comparable_rows(reference_db);
  ASSERT_EQ(reference_rows.size(), 36u);

  server.set_delay(0.05);
  const std::string killed_db = (dir / "killed.db").string();
  {
    BackgroundProcess run(args_for(killed_db));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (stored_samples(killed_db) < 8 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    run.kill_hard();
  }
  const size_t survived = stored_samples(killed_db);
  ASSERT_GE(survived, 8u);
  ASSERT_LT(survived, 36u) << "the run finished before it could be killed";

  server.set_delay(0.0);
  const CommandResult resumed = run_rbench(args_for(killed_db));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(contains(resumed.err, std::to_string(survived) + " stored before")) << resumed.err;
  EXPECT_EQ(comparable_rows(killed_db), reference_rows);
  EXPECT_EQ(Store::open(killed_db, StoreMode::read_only)->runs()[0].status, "finished");
}

TEST(RunLoop, ApiKeyNeverReachesTheStoreOrTheOutput) {
  FakeOpenAIServer server(deterministic_answer);
  TempDir dir;
  const std::string db = (dir / "results.db").string();
  const std::string secret = "sk-test-5ecret-never-stored";
  const CommandResult run = run_rbench({"run", "--model", "openai:fake@" + server.base_url(), "--limit", "3", "--db",
                                        db, "--api-key-env", "RBENCH_TEST_KEY"},
                                       {{"RBENCH_TEST_KEY", secret}});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(server.authorization_headers().front(), "Bearer " + secret);
  for (const char* suffix : {"", "-wal"}) {
    EXPECT_FALSE(contains(testing::read_file(db + suffix), secret)) << suffix;
  }
  EXPECT_FALSE(contains(run.err + run.out, secret));
}

TEST(RunLoop, ABackendThatIsDownStopsTheRunNamingTheCause) {
  TempDir dir;
  const std::string db = (dir / "results.db").string();
  int free_port = 0;
  {
    FakeOpenAIServer probe(deterministic_answer);
    free_port = probe.port();
  }  // now closed: nothing listens there
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port) + "/v1";
  const CommandResult down = run_rbench({"run", "--model", "openai:fake@" + url, "--limit", "20", "--db", db,
                                         "--max-retries", "0", "--max-consecutive-errors", "4", "--concurrency",
                                         "1"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(contains(down.err, "stopped after 4 failed requests in a row")) << down.err;
  EXPECT_TRUE(contains(down.err, "127.0.0.1:" + std::to_string(free_port))) << down.err;
  const auto store = Store::open(db, StoreMode::read_only);
  ASSERT_EQ(store->runs().size(), 1u);
  EXPECT_EQ(store->runs()[0].status, "failed");
  for (const auto& sample : store->samples(store->runs()[0].run_id)) EXPECT_EQ(sample.verdict, "error");
}

TEST(RunLoop, FailedSamplesAreRedoneByTheNextRun) {
  FakeOpenAIServer server(deterministic_answer);
  TempDir dir;
  const std::string db = (dir / "results.db").string();
  const std::vector<std::string> args = {"run", "--model", "openai:fake@" + server.base_url(), "--limit", "4",
                                         "--db", db, "--max-retries", "0", "--concurrency", "1"};
  server.push_faults({testing::Fault::http_500, testing::Fault::http_500});
  const CommandResult partial = run_rbench(args);
  EXPECT_EQ(partial.exit_code, 1) << partial.err;
  EXPECT_TRUE(contains(partial.err, "2 samples failed")) << partial.err;
  EXPECT_EQ(Store::open(db, StoreMode::read_only)->runs()[0].status, "incomplete");

  const CommandResult retry = run_rbench(args);
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_TRUE(contains(retry.err, "2 stored before, 2 now")) << retry.err;
  const auto store = Store::open(db, StoreMode::read_only);
  const auto samples = store->samples(store->runs()[0].run_id);
  ASSERT_EQ(samples.size(), 4u);
  for (const auto& sample : samples) EXPECT_TRUE(sample.error.empty());
}

// Another process takes the database's write lock in the middle of a run: the run stops with an error that
// names the database, keeps every sample it committed, and a rerun after the lock is gone completes it.
TEST(RunLoop, ADatabaseLockedMidRunStopsItCleanlyAndTheRerunCompletesIt) {
  FakeOpenAIServer server(deterministic_answer);
  server.set_delay(0.05);
  TempDir dir;
  const std::string db = (dir / "results.db").string();
  const std::vector<std::string> args = {"run", "--model", "openai:fake@" + server.base_url(), "--limit", "30",
                                         "--concurrency", "2", "--db", db};
  BackgroundProcess run(args, {{"RBENCH_DB_BUSY_TIMEOUT_MS", "200"}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stored_samples(db) < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  const CommandResult stopped = run.wait(60);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  EXPECT_EQ(stopped.exit_code, 2) << stopped.err;
  EXPECT_TRUE(contains(stopped.err, "locked")) << stopped.err;
  EXPECT_TRUE(contains(stopped.err, "results.db")) << stopped.err;
  const size_t kept = stored_samples(db);
  EXPECT_GE(kept, 4u);
  EXPECT_LT(kept, 30u);

  server.set_delay(0.0);
  const CommandResult rerun = run_rbench(args);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_TRUE(contains(rerun.err, std::to_string(kept) + " stored before")) << rerun.err;
  EXPECT_EQ(stored_samples(db), 30u);
}

TEST(RunLoop, PrintsPlainProgressLinesWhenNotOnATerminal) {
  FakeOpenAIServer server(deterministic_answer);
  server.set_delay(0.02);
  TempDir dir;
  const CommandResult run = run_rbench({"run", "--model", "openai:fake@" + server.base_url(), "--limit", "10",
                                        "--concurrency", "1", "--db", (dir / "r.db").string(),
                                        "--progress-interval", "0.05"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(contains(run.err, "fake on arith  ")) << run.err;
  EXPECT_TRUE(contains(run.err, "tok/s")) << run.err;
  EXPECT_TRUE(contains(run.err, "ETA")) << run.err;
  EXPECT_FALSE(contains(run.err, "\r")) << "no carriage returns in logs";
  EXPECT_GE(std::count(run.err.begin(), run.err.end(), '\n'), 3) << run.err;
}

TEST(RunLoop, BadInputsAreRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  const std::string db = (dir / "results.db").string();
  const std::string replay = export_reference(dir, 2, 1);

  const CommandResult suite = run_rbench({"run", "--model", "replay:" + replay, "--suite", "nope", "--db", db});
  EXPECT_EQ(suite.exit_code, 2);
  EXPECT_TRUE(contains(suite.err, "unknown suite 'nope'")) << suite.err;

  const CommandResult model = run_rbench({"run", "--model", "claude", "--db", db});
  EXPECT_EQ(model.exit_code, 2);
  EXPECT_TRUE(contains(model.err, "unknown model spec 'claude'")) << model.err;

  testing::write_file(dir / "broken.jsonl", "{\"problem_id\": \"arith-0\", \"content\": \"x\"}\nnot json\n");
  const CommandResult broken = run_rbench({"run", "--model", "replay:" + (dir / "broken.jsonl").string(), "--db", db});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_TRUE(contains(broken.err, "broken.jsonl:2: not valid JSON")) << broken.err;
  EXPECT_FALSE(std::filesystem::exists(db));

  const CommandResult no_dir =
      run_rbench({"run", "--model", "replay:" + replay, "--db", (dir / "missing" / "r.db").string()});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_TRUE(contains(no_dir.err, "missing/r.db")) << no_dir.err;
}

TEST(Cli, VersionGradeAndSuites) {
  const CommandResult version = run_rbench({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(contains(version.out, "rbench 0.")) << version.out;
  EXPECT_TRUE(contains(version.out, "(")) << "the git revision is shown";

  const CommandResult grade = run_rbench({"grade", "--scorer", "math", "--gold", "1/2", "--pred", "\\boxed{0.5}"});
  ASSERT_EQ(grade.exit_code, 0) << grade.err;
  const auto verdict = nlohmann::json::parse(grade.out);
  EXPECT_EQ(verdict["correct"], true);
  EXPECT_EQ(verdict["extracted"], "0.5");

  TempDir dir;
  testing::write_file(dir / "pairs.jsonl", "{\"gold\": \"3\", \"pred\": \"\\\\boxed{3}\"}\n"
                                           "{\"gold\": \"3\", \"pred\": \"\\\\boxed{4}\"}\n{\"gold\": 3}\n");
  const CommandResult batch = run_rbench({"grade", "--scorer", "math", "--jsonl", (dir / "pairs.jsonl").string()});
  EXPECT_EQ(batch.exit_code, 2);
  EXPECT_TRUE(contains(batch.out, "\"correct\":true")) << batch.out;
  EXPECT_TRUE(contains(batch.out, "\"correct\":false")) << batch.out;
  EXPECT_TRUE(contains(batch.err, "pairs.jsonl:3: field 'gold'")) << batch.err;

  const auto shared_data = testing::shared_dir() / "datasets";
  if (std::filesystem::exists(shared_data / "gpqa")) {
    const std::map<std::string, std::string> data_env = {{"RBENCH_DATA", shared_data.string()}};
    const CommandResult gpqa = run_rbench({"suites", "export", "gpqa_diamond", "--limit", "1"}, data_env);
    EXPECT_EQ(gpqa.exit_code, 2);
    EXPECT_TRUE(contains(gpqa.err, "never be written out in plain text")) << gpqa.err;
    EXPECT_EQ(gpqa.out, "");
    const CommandResult letters =
        run_rbench({"suites", "export", "gpqa_diamond", "--limit", "1", "--as-replay"}, data_env);
    EXPECT_EQ(letters.exit_code, 0) << letters.err;
    EXPECT_TRUE(contains(letters.out, "\"content\":\"Answer: ")) << letters.out;
  }

  const CommandResult show = run_rbench({"suites", "show", "arith"});
  ASSERT_EQ(show.exit_code, 0);
  EXPECT_TRUE(contains(show.out, "problems  100")) << show.out;
  EXPECT_TRUE(contains(show.out, "\\boxed{}")) << show.out;
}

}  // namespace
}  // namespace rbench
