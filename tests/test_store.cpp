// Tests of the SQLite store: every field round-trips, resumes never duplicate or lose samples, and
// every way a database file can be unusable ends in a message that names the file and the cause.
#include "harness/store/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/error.h"
#include "harness/store/schema.h"
#include "support/test_support.h"

namespace rbench {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;
using rbench::testing::TempDir;

// `text` contains `part`, with both shown when it does not.
::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// ---- records ----

ModelRecord make_model() {
  ModelRecord model;
  model.name = "deepseek-reasoner";
  model.backend = "openai";
  model.location = "https://api.deepseek.com/v1";
  model.weights_hash = "sha256:abc123";
  model.price_input = 0.55;
  model.price_cached_input = 0.14;
  model.price_output = 2.19;
  model.price_date = "2026-11-01";
  return model;
}

SuiteRecord make_suite() {
  SuiteRecord suite;
  suite.name = "aime24";
  suite.data_hash = "sha256:suite-v1";
  // Deliberately not in string order: problems come back in the order they were given.
  suite.problems = {
      {"2024-I-10", "113", {{"contest", "AIME I"}, {"year", 2024}}},
      {"2024-I-2", "25", {{"contest", "AIME I"}, {"tags", {"algebra", "logs"}}}},
      {"2024-II-1", "73", nlohmann::json::object()},
  };
  return suite;
}

RunRecord make_run(const std::string& run_id, std::vector<std::string> tags = {"nightly"}) {
  RunRecord run;
  run.run_id = run_id;
  run.prompt_template = "math-r1";
  run.generation_config = {{"temperature", 0.6}, {"top_p", 0.95}, {"max_tokens", 32768}};
  run.seed = 18446744073709551557ull;  // above INT64_MAX: the store keeps all 64 bits
  run.k = 4;
  run.problem_count = 30;
  run.engine_version = "rbench 0.1.0 (abc1234)";
  run.host = "ci-runner-7";
  run.tags = std::move(tags);
  return run;
}

SampleRecord make_sample(const std::string& run_id, const std::string& problem_id, int sample_index,
                         std::string error = "") {
  SampleRecord sample;
  sample.run_id = run_id;
  sample.problem_id = problem_id;
  sample.sample_index = sample_index;
  sample.prompt = R"([{"role":"user","content":"Find x. Please reason step by step."}])";
  sample.reasoning = "Let x = π ≈ 3.14159 — 東京.\0 A NUL byte survives.\nSo x is 113."s;
  sample.answer = "The answer is \\boxed{113}.";
  sample.extracted = "113";
  sample.verdict = error.empty() ? "correct" : "error";
  sample.score = error.empty() ? 1.0 : 0.0;
  sample.finish_reason = error.empty() ? "stop" : "error";
  sample.input_tokens = 123;
  sample.cached_input_tokens = 64;
  sample.output_tokens = 5'000'000'000;  // beyond 32 bits
  sample.reasoning_tokens = 4321;
  sample.latency_s = 12.5;
  sample.gpu_seconds = 3.25;
  sample.cost_usd = 0.0125;
  sample.error = std::move(error);
  return sample;
}

const std::regex iso8601_utc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)");

// ---- direct SQLite access, to look under the store or to play another process ----

class RawDatabase {
 public:
  explicit RawDatabase(const fs::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db_));
  }
  ~RawDatabase() { sqlite3_close(db_); }
  RawDatabase(const RawDatabase&) = delete;
  RawDatabase& operator=(const RawDatabase&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "?";
      sqlite3_free(message);
      throw std::runtime_error(sql + ": " + text);
    }
  }
  // The first column of the first row, as text ("" for NULL or no row).
  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0)) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return value;
  }
  int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  bool is_null(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr);
    bool null = sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_type(statement, 0) == SQLITE_NULL;
    sqlite3_finalize(statement);
    return null;
  }

 private:
  sqlite3* db_ = nullptr;
};

// ---- running code in a child process (to crash it, or to drop root's privileges) ----

struct ChildOutcome {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;
  std::string message;  // what() of the exception that ended the body, if any
};

constexpr int exit_user_error = 10;
constexpr int exit_other_error = 11;
constexpr int exit_setup_failed = 12;

// Runs `body` in a forked child, which never returns into GoogleTest. With `as_unprivileged_user`
// and when the tests run as root, the child first becomes `nobody`, for whom file modes still apply.
ChildOutcome run_in_child(const std::function<void()>& body, bool as_unprivileged_user = false) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(pipe_ends[0]);
    auto report = [&](const std::string& text, int code) {
      ssize_t ignored = write(pipe_ends[1], text.data(), text.size());
      (void)ignored;
      _exit(code);
    };
    if (as_unprivileged_user && geteuid() == 0) {
      if (setgid(65534) != 0 || setuid(65534) != 0) report("cannot become nobody", exit_setup_failed);
    }
    try {
      body();
    } catch (const UserError& error) {
      report(error.what(), exit_user_error);
    } catch (const std::exception& error) {
      report(error.what(), exit_other_error);
    }
    report("", 0);
  }
  close(pipe_ends[1]);
  ChildOutcome outcome;
  char buffer[4096];
  ssize_t count;
  while ((count = read(pipe_ends[0], buffer, sizeof buffer)) > 0) outcome.message.append(buffer, count);
  close(pipe_ends[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

// Sets an environment variable for the life of the object.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnvironment() { unsetenv(name_); }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  const char* name_;
};

// ---- fixture ----

class StoreTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return temp_ / "results.db"; }
  std::unique_ptr<Store> open_store(StoreMode mode = StoreMode::read_write) const {
    return Store::open(db_path(), mode);
  }
  // A model, a suite and run "run-1" in `store`.
  static void seed_run(Store& store, const RunRecord& run = make_run("run-1")) {
    int64_t model_id = store.put_model(make_model());
    int64_t suite_id = store.put_suite(make_suite());
    store.begin_run(run, model_id, suite_id);
  }
  // The message of the UserError that `action` throws; fails the test if it throws none.
  static std::string user_error_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const UserError& error) {
      return error.what();
    }
    ADD_FAILURE() << "expected a UserError";
    return "";
  }

  TempDir temp_;
};

// ---- schema ----

TEST_F(StoreTest, OpenCreatesTheCurrentSchemaInWalMode) {
  {
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), Store::current_schema_version());
    EXPECT_EQ(store->path(), db_path());
  }
  RawDatabase raw(db_path());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), Store::current_schema_version());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  for (std::string table : {"models", "suites", "problems", "runs", "run_tags", "samples"}) {
    EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + table + "'"), 1)
        << table;
  }
}

TEST_F(StoreTest, ReopeningKeepsTheSchemaAndTheData) {
  { seed_run(*open_store()); }
  auto again = open_store();
  EXPECT_EQ(again->schema_version(), Store::current_schema_version());
  EXPECT_TRUE(again->run("run-1").has_value());
  auto reader = open_store(StoreMode::read_only);
  EXPECT_EQ(reader->schema_version(), Store::current_schema_version());
}

TEST_F(StoreTest, MigrationsAreNumberedFromOneWithoutGaps) {
  auto steps = store_schema::migrations();
  ASSERT_FALSE(steps.empty());
  for (std::size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].version, static_cast<int>(i) + 1);
  EXPECT_EQ(store_schema::latest_version(), steps.back().version);
  EXPECT_EQ(Store::current_schema_version(), store_schema::latest_version());
}

TEST_F(StoreTest, AnEmptySqliteFileIsMigrated) {
  { RawDatabase raw(db_path()); }  // creates an empty database, user_version 0
  auto store = open_store();
  EXPECT_EQ(store->schema_version(), Store::current_schema_version());
}

TEST_F(StoreTest, NewerSchemaVersionIsRefusedNamingFileAndVersions) {
  { open_store(); }
  { RawDatabase(db_path()).exec("PRAGMA user_version = 999"); }
  for (StoreMode mode : {StoreMode::read_write, StoreMode::read_only}) {
    std::string message = user_error_of([&] { open_store(mode); });
    EXPECT_TRUE(contains(message, db_path().string()));
    EXPECT_TRUE(contains(message, "999"));
    EXPECT_TRUE(contains(message, "version " + std::to_string(Store::current_schema_version())));
  }
  EXPECT_EQ(RawDatabase(db_path()).integer("PRAGMA user_version"), 999);  // left as it was
}

TEST_F(StoreTest, ReadOnlyModeNeverMigrates) {
  { RawDatabase raw(db_path()); }
  std::string message = user_error_of([&] { open_store(StoreMode::read_only); });
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "no rbench schema"));
  EXPECT_EQ(RawDatabase(db_path()).integer("PRAGMA user_version"), 0);
}

TEST_F(StoreTest, ReadOnlyModeRefusesASchemaItWouldHaveToMigrate) {
  { open_store(); }
  if (Store::current_schema_version() < 2) GTEST_SKIP() << "no older rbench schema exists yet";
  { RawDatabase(db_path()).exec("PRAGMA user_version = " + std::to_string(Store::current_schema_version() - 1)); }
  std::string message = user_error_of([&] { open_store(StoreMode::read_only); });
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "older"));
}

TEST_F(StoreTest, AVersion1StoreMigratesAndKeepsItsSamples) {
  {
    auto store = open_store();
    seed_run(*store);
    store->write_sample(make_sample("run-1", "2024-I-2", 0));
  }
  {  // turn it back into what version 1 wrote: no grading column
    RawDatabase raw(db_path());
    raw.exec("ALTER TABLE samples DROP COLUMN grading");
    raw.exec("PRAGMA user_version = 1");
  }
  auto store = open_store();
  EXPECT_EQ(store->schema_version(), Store::current_schema_version());
  const auto samples = store->samples("run-1");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].problem_id, "2024-I-2");
  EXPECT_EQ(samples[0].grading, "{}");
}

TEST_F(StoreTest, SampleGradingDetailsRoundTrip) {
  auto store = open_store();
  seed_run(*store);
  SampleRecord sample = make_sample("run-1", "2024-I-2", 0);
  sample.grading = R"({"status":"wrong_answer","test":3})";
  store->write_sample(sample);
  EXPECT_EQ(store->samples("run-1").at(0).grading, sample.grading);
}

TEST_F(StoreTest, SampleCountIncludesFailedSamples) {
  auto store = open_store();
  seed_run(*store);
  EXPECT_EQ(store->sample_count("run-1"), 0);
  store->write_sample(make_sample("run-1", "2024-I-2", 0));
  SampleRecord failed = make_sample("run-1", "2024-I-2", 1);
  failed.error = "HTTP 503";
  failed.verdict = "error";
  store->write_sample(failed);
  EXPECT_EQ(store->sample_count("run-1"), 2);
  EXPECT_EQ(store->sample_count("no-such-run"), 0);
}

TEST_F(StoreTest, AnotherProgramsSqliteDatabaseIsLeftAlone) {
  { RawDatabase(db_path()).exec("CREATE TABLE contacts (name TEXT)"); }
  std::string message = user_error_of([&] { open_store(); });
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "not an rbench store"));
  EXPECT_EQ(RawDatabase(db_path()).integer("SELECT count(*) FROM sqlite_schema"), 1);
}

// ---- files that cannot be used ----

TEST_F(StoreTest, TextFileIsNotADatabase) {
  rbench::testing::write_file(db_path(), "problem_id,answer\n" + std::string(2000, 'x') + "\n");
  for (StoreMode mode : {StoreMode::read_write, StoreMode::read_only}) {
    std::string message = user_error_of([&] { open_store(mode); });
    EXPECT_TRUE(contains(message, db_path().string()));
    EXPECT_TRUE(contains(message, "not a SQLite database"));
  }
}

TEST_F(StoreTest, TruncatedDatabaseIsReportedAsCorrupt) {
  {
    auto store = open_store();
    seed_run(*store);
    for (int i = 0; i < 20; ++i) store->write_sample(make_sample("run-1", "p", i));
  }
  fs::resize_file(db_path(), fs::file_size(db_path()) / 2);
  std::string message = user_error_of([&] { open_store()->samples("run-1"); });
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "corrupt"));
}

TEST_F(StoreTest, GarbageAfterAValidHeaderIsReported) {
  { seed_run(*open_store()); }
  std::string bytes = rbench::testing::read_file(db_path());
  for (std::size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7919 % 251);
  rbench::testing::write_file(db_path(), bytes);
  std::string message = user_error_of([&] { open_store()->runs(); });
  EXPECT_TRUE(contains(message, db_path().string()));
}

TEST_F(StoreTest, MissingDirectoryIsNamed) {
  fs::path path = temp_ / "no" / "such" / "dir" / "results.db";
  std::string message = user_error_of([&] { Store::open(path); });
  EXPECT_TRUE(contains(message, path.string()));
  EXPECT_TRUE(contains(message, "does not exist"));
}

TEST_F(StoreTest, ReadOnlyModeNeedsAnExistingFile) {
  std::string message = user_error_of([&] { open_store(StoreMode::read_only); });
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "does not exist"));
  EXPECT_FALSE(fs::exists(db_path()));
}

TEST_F(StoreTest, ReadOnlyModeReadsAndRefusesWrites) {
  auto writer = open_store();
  seed_run(*writer);
  writer->write_sample(make_sample("run-1", "2024-I-2", 0));
  auto reader = open_store(StoreMode::read_only);  // while the writer is still open: WAL allows it
  EXPECT_EQ(reader->samples("run-1").size(), 1u);
  std::string message = user_error_of([&] { reader->write_sample(make_sample("run-1", "2024-I-2", 1)); });
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "read-only"));
}

TEST_F(StoreTest, ReadOnlyFileIsReportedAtOpen) {
  { seed_run(*open_store()); }
  fs::permissions(db_path(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  // Root ignores file modes, so as root the open runs in a child that has become `nobody`.
  ChildOutcome outcome = run_in_child([&] { open_store(); }, /*as_unprivileged_user=*/true);
  ASSERT_NE(outcome.exit_code, exit_setup_failed) << outcome.message;
  EXPECT_EQ(outcome.exit_code, exit_user_error) << outcome.message;
  EXPECT_TRUE(contains(outcome.message, db_path().string()));
  EXPECT_TRUE(contains(outcome.message, "read-only"));
}

TEST_F(StoreTest, ReadOnlyDirectoryIsReportedAtOpen) {
  { seed_run(*open_store()); }  // closing removes the -wal and -shm files, which must be created again
  fs::permissions(db_path(), fs::perms::all);
  fs::permissions(temp_.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  ChildOutcome outcome = run_in_child([&] { open_store(); }, /*as_unprivileged_user=*/true);
  fs::permissions(temp_.path(), fs::perms::owner_all);  // so that TempDir can clean up
  ASSERT_NE(outcome.exit_code, exit_setup_failed) << outcome.message;
  EXPECT_EQ(outcome.exit_code, exit_user_error) << outcome.message;
  EXPECT_TRUE(contains(outcome.message, db_path().string()));
  EXPECT_TRUE(contains(outcome.message, "read-only"));
}

TEST_F(StoreTest, CreatingInAReadOnlyDirectoryIsReported) {
  fs::permissions(temp_.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  ChildOutcome outcome = run_in_child([&] { open_store(); }, /*as_unprivileged_user=*/true);
  fs::permissions(temp_.path(), fs::perms::owner_all);
  ASSERT_NE(outcome.exit_code, exit_setup_failed) << outcome.message;
  EXPECT_EQ(outcome.exit_code, exit_user_error) << outcome.message;
  EXPECT_TRUE(contains(outcome.message, db_path().string()));
  EXPECT_TRUE(contains(outcome.message, "not writable"));
}

TEST_F(StoreTest, ReadOnlyModeReadsAFileInAReadOnlyDirectory) {
  {
    auto store = open_store();
    seed_run(*store);
    store->write_sample(make_sample("run-1", "2024-I-2", 0));
  }  // a clean close leaves no -wal or -shm file, and none can be created below
  fs::permissions(db_path(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(temp_.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  ChildOutcome outcome = run_in_child(
      [&] {
        auto store = open_store(StoreMode::read_only);
        if (store->samples("run-1").size() != 1) throw std::runtime_error("wrong sample count");
      },
      /*as_unprivileged_user=*/true);
  fs::permissions(temp_.path(), fs::perms::owner_all);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.message;
}

TEST_F(StoreTest, LockedDatabaseFailsAfterTheBusyTimeoutWithAClearMessage) {
  ScopedEnvironment short_timeout("RBENCH_DB_BUSY_TIMEOUT_MS", "300");
  auto store = open_store();
  seed_run(*store);
  RawDatabase other_process(db_path());
  other_process.exec("BEGIN EXCLUSIVE");

  auto started = std::chrono::steady_clock::now();
  std::string message = user_error_of([&] { store->write_sample(make_sample("run-1", "2024-I-2", 0)); });
  double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_TRUE(contains(message, db_path().string()));
  EXPECT_TRUE(contains(message, "locked"));
  EXPECT_TRUE(contains(message, "another rbench run"));
  EXPECT_GE(waited_s, 0.25);
  EXPECT_LT(waited_s, 5.0);

  other_process.exec("ROLLBACK");
  EXPECT_TRUE(store->write_sample(make_sample("run-1", "2024-I-2", 0)));  // the store still works
}

TEST_F(StoreTest, BadBusyTimeoutSettingIsRefused) {
  ScopedEnvironment setting("RBENCH_DB_BUSY_TIMEOUT_MS", "soon");
  EXPECT_TRUE(contains(user_error_of([&] { open_store(); }), "RBENCH_DB_BUSY_TIMEOUT_MS"));
}

// ---- round trips ----

TEST_F(StoreTest, ModelRoundTripsAndPricesAreUpdatedInPlace) {
  auto store = open_store();
  ModelRecord model = make_model();
  int64_t model_id = store->put_model(model);
  EXPECT_EQ(store->put_model(model), model_id);

  model.price_output = 2.5;
  model.price_cached_input.reset();
  model.price_date = "2026-12-01";
  EXPECT_EQ(store->put_model(model), model_id);
  store->begin_run(make_run("run-1"), model_id, store->put_suite(make_suite()));

  auto stored = store->model_of_run("run-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->name, model.name);
  EXPECT_EQ(stored->backend, model.backend);
  EXPECT_EQ(stored->location, model.location);
  EXPECT_EQ(stored->weights_hash, model.weights_hash);
  EXPECT_EQ(stored->price_input, model.price_input);
  EXPECT_EQ(stored->price_cached_input, std::nullopt);
  EXPECT_EQ(stored->price_output, 2.5);
  EXPECT_EQ(stored->price_date, "2026-12-01");
  EXPECT_TRUE(RawDatabase(db_path()).is_null("SELECT price_cached_input FROM models"));

  ModelRecord other_weights = model;
  other_weights.weights_hash = "sha256:def456";
  EXPECT_NE(store->put_model(other_weights), model_id);
}

TEST_F(StoreTest, SuiteIsStoredOnceWithItsProblemsInOrder) {
  auto store = open_store();
  SuiteRecord suite = make_suite();
  int64_t suite_id = store->put_suite(suite);
  EXPECT_EQ(store->put_suite(suite), suite_id);
  EXPECT_EQ(RawDatabase(db_path()).integer("SELECT count(*) FROM problems"), 3);

  auto problems = store->problems(suite.name, suite.data_hash);
  ASSERT_EQ(problems.size(), suite.problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i) {
    EXPECT_EQ(problems[i].problem_id, suite.problems[i].problem_id);
    EXPECT_EQ(problems[i].gold, suite.problems[i].gold);
    EXPECT_EQ(problems[i].metadata, suite.problems[i].metadata);
  }

  SuiteRecord next_version = suite;
  next_version.data_hash = "sha256:suite-v2";
  next_version.problems.pop_back();
  EXPECT_NE(store->put_suite(next_version), suite_id);
  EXPECT_EQ(store->problems(suite.name, next_version.data_hash).size(), 2u);
  EXPECT_EQ(store->problems(suite.name, suite.data_hash).size(), 3u);
  EXPECT_TRUE(store->problems(suite.name, "sha256:unknown").empty());
}

TEST_F(StoreTest, DuplicateProblemIdsInASuiteAreRefused) {
  auto store = open_store();
  SuiteRecord suite = make_suite();
  suite.problems.push_back(suite.problems.front());
  std::string message = user_error_of([&] { store->put_suite(suite); });
  EXPECT_TRUE(contains(message, suite.problems.front().problem_id));
  EXPECT_EQ(RawDatabase(db_path()).integer("SELECT count(*) FROM suites"), 0);  // rolled back whole
}

TEST_F(StoreTest, RunRoundTripsEveryField) {
  auto store = open_store();
  RunRecord run = make_run("run-1", {"nightly", "baseline"});
  seed_run(*store, run);

  auto stored = store->run("run-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->run_id, run.run_id);
  EXPECT_EQ(stored->model_name, make_model().name);
  EXPECT_EQ(stored->backend, make_model().backend);
  EXPECT_EQ(stored->suite_name, make_suite().name);
  EXPECT_EQ(stored->suite_hash, make_suite().data_hash);
  EXPECT_EQ(stored->prompt_template, run.prompt_template);
  EXPECT_EQ(stored->generation_config, run.generation_config);
  EXPECT_EQ(stored->seed, run.seed);
  EXPECT_EQ(stored->k, run.k);
  EXPECT_EQ(stored->problem_count, run.problem_count);
  EXPECT_EQ(stored->engine_version, run.engine_version);
  EXPECT_EQ(stored->host, run.host);
  EXPECT_TRUE(std::regex_match(stored->started_at, iso8601_utc)) << stored->started_at;
  EXPECT_EQ(stored->finished_at, "");
  EXPECT_EQ(stored->status, "running");
  EXPECT_EQ(stored->tags, run.tags);
  EXPECT_TRUE(RawDatabase(db_path()).is_null("SELECT finished_at FROM runs"));

  store->finish_run("run-1", "finished");
  stored = store->run("run-1");
  EXPECT_EQ(stored->status, "finished");
  EXPECT_TRUE(std::regex_match(stored->finished_at, iso8601_utc)) << stored->finished_at;
  EXPECT_GE(stored->finished_at, stored->started_at);
}

TEST_F(StoreTest, SampleRoundTripsEveryField) {
  auto store = open_store();
  seed_run(*store);
  SampleRecord with_costs = make_sample("run-1", "2024-I-2", 0);
  SampleRecord without_costs = make_sample("run-1", "2024-I-2", 1);
  without_costs.gpu_seconds.reset();
  without_costs.cost_usd.reset();
  without_costs.reasoning = std::string(100'000, 'r');  // spills to overflow pages
  ASSERT_NE(with_costs.reasoning.find('\0'), std::string::npos);  // binary-safe, not C strings
  EXPECT_TRUE(store->write_sample(without_costs));
  EXPECT_TRUE(store->write_sample(with_costs));

  auto stored = store->samples("run-1");
  ASSERT_EQ(stored.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const SampleRecord& expected = i == 0 ? with_costs : without_costs;
    const SampleRecord& actual = stored[i];
    EXPECT_EQ(actual.run_id, expected.run_id);
    EXPECT_EQ(actual.problem_id, expected.problem_id);
    EXPECT_EQ(actual.sample_index, expected.sample_index);
    EXPECT_EQ(actual.prompt, expected.prompt);
    EXPECT_EQ(actual.reasoning, expected.reasoning);
    EXPECT_EQ(actual.answer, expected.answer);
    EXPECT_EQ(actual.extracted, expected.extracted);
    EXPECT_EQ(actual.verdict, expected.verdict);
    EXPECT_EQ(actual.score, expected.score);
    EXPECT_EQ(actual.finish_reason, expected.finish_reason);
    EXPECT_EQ(actual.input_tokens, expected.input_tokens);
    EXPECT_EQ(actual.cached_input_tokens, expected.cached_input_tokens);
    EXPECT_EQ(actual.output_tokens, expected.output_tokens);
    EXPECT_EQ(actual.reasoning_tokens, expected.reasoning_tokens);
    EXPECT_EQ(actual.latency_s, expected.latency_s);
    EXPECT_EQ(actual.gpu_seconds, expected.gpu_seconds);
    EXPECT_EQ(actual.cost_usd, expected.cost_usd);
    EXPECT_EQ(actual.error, expected.error);
    EXPECT_TRUE(std::regex_match(actual.created_at, iso8601_utc)) << actual.created_at;
  }
  RawDatabase raw(db_path());
  EXPECT_TRUE(raw.is_null("SELECT gpu_seconds FROM samples WHERE sample_index = 1"));
  EXPECT_TRUE(raw.is_null("SELECT cost_usd FROM samples WHERE sample_index = 1"));
}

TEST_F(StoreTest, SamplesComeBackOrderedByProblemThenIndex) {
  auto store = open_store();
  seed_run(*store);
  for (const char* problem : {"b", "a"}) {
    for (int index : {2, 0, 1}) store->write_sample(make_sample("run-1", problem, index));
  }
  std::vector<std::pair<std::string, int>> order;
  for (const auto& sample : store->samples("run-1")) order.emplace_back(sample.problem_id, sample.sample_index);
  std::vector<std::pair<std::string, int>> expected{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}, {"b", 1}, {"b", 2}};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(store->finished_samples("run-1"), expected);
}

TEST_F(StoreTest, UnknownNamesReadAsEmpty) {
  auto store = open_store();
  EXPECT_EQ(store->run("nope"), std::nullopt);
  EXPECT_EQ(store->model_of_run("nope"), std::nullopt);
  EXPECT_TRUE(store->samples("nope").empty());
  EXPECT_TRUE(store->finished_samples("nope").empty());
  EXPECT_TRUE(store->runs().empty());
  EXPECT_TRUE(store->problems("aime24", "sha256:x").empty());
}

// ---- resume semantics ----

TEST_F(StoreTest, WritingTheSameSampleTwiceKeepsTheFirst) {
  auto store = open_store();
  seed_run(*store);
  SampleRecord first = make_sample("run-1", "2024-I-2", 0);
  SampleRecord second = first;
  second.answer = "a different answer";
  EXPECT_TRUE(store->write_sample(first));
  EXPECT_FALSE(store->write_sample(second));
  auto stored = store->samples("run-1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].answer, first.answer);
}

TEST_F(StoreTest, AnErroredSampleIsReplacedAndNotCountedAsFinished) {
  auto store = open_store();
  seed_run(*store);
  EXPECT_TRUE(store->write_sample(make_sample("run-1", "2024-I-2", 0, "HTTP 503 after 5 retries")));
  EXPECT_TRUE(store->write_sample(make_sample("run-1", "2024-I-2", 1)));
  EXPECT_EQ(store->finished_samples("run-1"), (std::vector<std::pair<std::string, int>>{{"2024-I-2", 1}}));

  EXPECT_TRUE(store->write_sample(make_sample("run-1", "2024-I-2", 0, "timed out")));  // still failing
  EXPECT_EQ(store->samples("run-1")[0].error, "timed out");

  EXPECT_TRUE(store->write_sample(make_sample("run-1", "2024-I-2", 0)));  // the redo succeeds
  auto stored = store->samples("run-1");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].error, "");
  EXPECT_EQ(stored[0].verdict, "correct");
  EXPECT_EQ(store->finished_samples("run-1").size(), 2u);

  EXPECT_FALSE(store->write_sample(make_sample("run-1", "2024-I-2", 0, "late failure")));  // good one kept
  EXPECT_EQ(store->samples("run-1")[0].error, "");
}

TEST_F(StoreTest, BeginRunTwiceRaisesKAndProblemCountAndMergesTags) {
  auto store = open_store();
  seed_run(*store, make_run("run-1", {"nightly", "baseline"}));
  store->finish_run("run-1", "interrupted");
  std::string started_at = store->run("run-1")->started_at;

  RunRecord wider = make_run("run-1", {"baseline", "rerun"});
  wider.k = 8;
  wider.problem_count = 10;  // smaller: the run keeps covering 30
  int64_t model_id = store->put_model(make_model());
  int64_t suite_id = store->put_suite(make_suite());
  store->begin_run(wider, model_id, suite_id);

  auto stored = store->run("run-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->k, 8);
  EXPECT_EQ(stored->problem_count, 30);
  EXPECT_EQ(stored->status, "running");
  EXPECT_EQ(stored->finished_at, "");
  EXPECT_EQ(stored->started_at, started_at);
  EXPECT_EQ(stored->tags, (std::vector<std::string>{"nightly", "baseline", "rerun"}));

  RunRecord narrower = make_run("run-1", {});
  narrower.k = 2;
  narrower.problem_count = 50;
  store->begin_run(narrower, model_id, suite_id);
  stored = store->run("run-1");
  EXPECT_EQ(stored->k, 8);
  EXPECT_EQ(stored->problem_count, 50);
  EXPECT_EQ(stored->tags.size(), 3u);
  EXPECT_EQ(store->runs().size(), 1u);
}

TEST_F(StoreTest, RunsAreListedNewestFirstAndFilteredByTag) {
  auto store = open_store();
  int64_t model_id = store->put_model(make_model());
  int64_t suite_id = store->put_suite(make_suite());
  store->begin_run(make_run("run-a", {"nightly"}), model_id, suite_id);
  store->begin_run(make_run("run-b", {"adhoc"}), model_id, suite_id);
  store->begin_run(make_run("run-c", {"nightly", "release"}), model_id, suite_id);

  auto ids = [](const std::vector<RunRecord>& runs) {
    std::vector<std::string> result;
    for (const auto& run : runs) result.push_back(run.run_id);
    return result;
  };
  EXPECT_EQ(ids(store->runs()), (std::vector<std::string>{"run-c", "run-b", "run-a"}));
  EXPECT_EQ(ids(store->runs("nightly")), (std::vector<std::string>{"run-c", "run-a"}));
  EXPECT_EQ(ids(store->runs("release")), (std::vector<std::string>{"run-c"}));
  EXPECT_TRUE(store->runs("missing").empty());
  auto nightly = store->runs("nightly");
  EXPECT_EQ(nightly[0].tags, (std::vector<std::string>{"nightly", "release"}));  // all tags, not just the filter
  EXPECT_EQ(nightly[0].model_name, make_model().name);
  EXPECT_EQ(nightly[0].suite_hash, make_suite().data_hash);
}

// ---- misuse ----

TEST_F(StoreTest, SampleOfAnUnknownRunIsRefused) {
  auto store = open_store();
  std::string message = user_error_of([&] { store->write_sample(make_sample("ghost", "p", 0)); });
  EXPECT_TRUE(contains(message, "ghost"));
  EXPECT_TRUE(contains(message, "begin_run"));
}

TEST_F(StoreTest, RunWithUnknownModelIsRefused) {
  auto store = open_store();
  int64_t suite_id = store->put_suite(make_suite());
  EXPECT_TRUE(contains(user_error_of([&] { store->begin_run(make_run("run-1"), 4242, suite_id); }), "4242"));
}

TEST_F(StoreTest, FinishRunChecksTheRunAndTheStatus) {
  auto store = open_store();
  seed_run(*store);
  EXPECT_TRUE(contains(user_error_of([&] { store->finish_run("run-1", "done"); }), "done"));
  EXPECT_TRUE(contains(user_error_of([&] { store->finish_run("ghost", "finished"); }), "ghost"));
  EXPECT_EQ(store->run("run-1")->status, "running");
  for (const char* status : {"incomplete", "failed", "interrupted", "finished"}) {
    store->finish_run("run-1", status);
    EXPECT_EQ(store->run("run-1")->status, status);
  }
}

// ---- concurrency and crashes ----

TEST_F(StoreTest, ThreadsShareOneStore) {
  auto store = open_store();
  seed_run(*store);
  constexpr int thread_count = 4;
  constexpr int samples_per_thread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < samples_per_thread; ++i) {
        store->write_sample(make_sample("run-1", "p" + std::to_string(t), i));
        store->finished_samples("run-1");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store->samples("run-1").size(), static_cast<std::size_t>(thread_count * samples_per_thread));
}

TEST_F(StoreTest, TwoConnectionsWriteToOneFileWithoutLosingSamples) {
  auto first = open_store();
  seed_run(*first);
  auto second = open_store();  // as a second rbench process would
  auto write_from = [](Store& store, const std::string& problem) {
    for (int i = 0; i < 40; ++i) store.write_sample(make_sample("run-1", problem, i));
  };
  std::thread a(write_from, std::ref(*first), "from-first");
  std::thread b(write_from, std::ref(*second), "from-second");
  a.join();
  b.join();
  EXPECT_EQ(first->samples("run-1").size(), 80u);
}

TEST_F(StoreTest, CommittedSamplesSurviveAKilledProcess) {
  constexpr int sample_count = 25;
  ChildOutcome outcome = run_in_child([&] {
    auto store = open_store();
    seed_run(*store);
    for (int i = 0; i < sample_count; ++i) {
      SampleRecord sample = make_sample("run-1", "2024-I-2", i);
      sample.reasoning = std::string(8192, 'r');
      store->write_sample(sample);
    }
    raise(SIGKILL);  // no destructors, no close, no checkpoint
  });
  ASSERT_EQ(outcome.signal, SIGKILL) << outcome.message;
  EXPECT_TRUE(fs::exists(db_path().string() + "-wal"));  // the samples live in the WAL, not yet in the file

  {
    // A report may be the first to look at the file after the crash: no recovery needs write access.
    auto reader = open_store(StoreMode::read_only);
    EXPECT_EQ(reader->samples("run-1").size(), static_cast<std::size_t>(sample_count));
  }
  {
    auto store = open_store();
    auto samples = store->samples("run-1");
    ASSERT_EQ(samples.size(), static_cast<std::size_t>(sample_count));
    EXPECT_EQ(samples.back().reasoning, std::string(8192, 'r'));
    EXPECT_EQ(store->run("run-1")->status, "running");
  }
  EXPECT_EQ(RawDatabase(db_path()).text("PRAGMA integrity_check"), "ok");
}

TEST_F(StoreTest, AKillInTheMiddleOfWritingLosesNoAcknowledgedSample) {
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipe_ends[0]);
    auto store = open_store();
    seed_run(*store);
    SampleRecord sample = make_sample("run-1", "p", 0);
    sample.reasoning = std::string(8192, 'r');
    for (int32_t i = 0; i < 1'000'000; ++i) {  // until killed
      sample.sample_index = i;
      store->write_sample(sample);
      if (write(pipe_ends[1], &i, sizeof i) != sizeof i) _exit(1);  // acknowledged: committed
    }
    _exit(0);
  }
  close(pipe_ends[1]);
  int32_t last_acknowledged = -1;
  int32_t index = 0;
  while (last_acknowledged < 40 && read(pipe_ends[0], &index, sizeof index) == sizeof index) last_acknowledged = index;
  kill(pid, SIGKILL);  // most likely in the middle of a transaction
  int status = 0;
  waitpid(pid, &status, 0);
  while (read(pipe_ends[0], &index, sizeof index) == sizeof index) last_acknowledged = index;
  close(pipe_ends[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  {
    auto samples = open_store()->samples("run-1");
    EXPECT_GE(samples.size(), static_cast<std::size_t>(last_acknowledged) + 1);
    EXPECT_LE(samples.size(), static_cast<std::size_t>(last_acknowledged) + 2);  // one committed, not yet told
    for (const auto& sample : samples) EXPECT_EQ(sample.reasoning.size(), 8192u);
  }
  EXPECT_EQ(RawDatabase(db_path()).text("PRAGMA integrity_check"), "ok");
}

TEST_F(StoreTest, DiskFullIsReportedAndLosesNothingCommitted) {
  ChildOutcome outcome = run_in_child([&] {
    auto store = open_store();
    seed_run(*store);
    store->write_sample(make_sample("run-1", "2024-I-2", 0));
    // The process may not grow any file past this size: the next large write runs out of room.
    std::size_t wal_size = fs::file_size(db_path().string() + "-wal");
    rlim_t limit = static_cast<rlim_t>(std::max<std::size_t>(wal_size, fs::file_size(db_path()))) + 4096;
    signal(SIGXFSZ, SIG_IGN);
    rlimit file_size_limit{limit, limit};
    if (setrlimit(RLIMIT_FSIZE, &file_size_limit) != 0) throw std::runtime_error("setrlimit failed");
    SampleRecord huge = make_sample("run-1", "2024-I-2", 1);
    huge.reasoning = std::string(256 * 1024, 'r');
    store->write_sample(huge);
  });
  EXPECT_EQ(outcome.exit_code, exit_user_error) << outcome.message;
  EXPECT_TRUE(contains(outcome.message, db_path().string()));
  EXPECT_TRUE(outcome.message.find("disk full") != std::string::npos ||
              outcome.message.find("I/O error") != std::string::npos)
      << outcome.message;

  auto store = open_store();
  EXPECT_EQ(store->samples("run-1").size(), 1u);
  store.reset();
  EXPECT_EQ(RawDatabase(db_path()).text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace rbench
