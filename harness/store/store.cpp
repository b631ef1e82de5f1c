#include "harness/store/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "common/error.h"
#include "harness/store/schema.h"

namespace rbench {

namespace fs = std::filesystem;

namespace {

constexpr int default_busy_timeout_ms = 5000;

// RBENCH_DB_BUSY_TIMEOUT_MS overrides how long a write waits for another writer's lock; tests
// shorten it, and a slow shared filesystem may want it longer.
int busy_timeout_from_environment() {
  const char* text = std::getenv("RBENCH_DB_BUSY_TIMEOUT_MS");
  if (text == nullptr || *text == '\0') return default_busy_timeout_ms;
  int value = 0;
  const char* end = text + std::strlen(text);
  auto [stop, error] = std::from_chars(text, end, value);
  if (error != std::errc() || stop != end || value < 0) {
    throw UserError(std::string("RBENCH_DB_BUSY_TIMEOUT_MS must be a number of milliseconds, not '") + text + "'");
  }
  return value;
}

std::string utc_now_iso8601() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// Invalid UTF-8 in model output or dataset metadata must not abort a run, so it is replaced.
std::string to_json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_allowed_final_status(std::string_view status) {
  return status == "finished" || status == "incomplete" || status == "failed" || status == "interrupted";
}

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using ConnectionPtr = std::unique_ptr<sqlite3, ConnectionCloser>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// ---- SQL, one constant per statement (the statement cache is keyed by these texts) ----

constexpr std::string_view sql_upsert_model = R"sql(
INSERT INTO models (backend, name, location, weights_hash, price_input, price_cached_input, price_output, price_date)
VALUES (:backend, :name, :location, :weights_hash, :price_input, :price_cached_input, :price_output, :price_date)
ON CONFLICT (backend, name, location, weights_hash) DO UPDATE SET
  price_input = excluded.price_input, price_cached_input = excluded.price_cached_input,
  price_output = excluded.price_output, price_date = excluded.price_date
RETURNING id)sql";

constexpr std::string_view sql_find_suite = "SELECT id FROM suites WHERE name = :name AND data_hash = :data_hash";
constexpr std::string_view sql_insert_suite = R"sql(
INSERT INTO suites (name, data_hash, created_at) VALUES (:name, :data_hash, :created_at) RETURNING id)sql";
constexpr std::string_view sql_insert_problem = R"sql(
INSERT INTO problems (suite_id, problem_id, position, gold, metadata)
VALUES (:suite_id, :problem_id, :position, :gold, :metadata))sql";

// Reopening a run keeps what identifies it (model, suite, template, config, seed, started_at) and
// only widens what was asked for: a resumed run never loses samples it already covers.
constexpr std::string_view sql_upsert_run = R"sql(
INSERT INTO runs (run_id, model_id, suite_id, prompt_template, generation_config, seed, k, problem_count,
                  engine_version, host, started_at, finished_at, status)
VALUES (:run_id, :model_id, :suite_id, :prompt_template, :generation_config, :seed, :k, :problem_count,
        :engine_version, :host, :started_at, NULL, 'running')
ON CONFLICT (run_id) DO UPDATE SET
  status = 'running', finished_at = NULL,
  k = max(k, excluded.k), problem_count = max(problem_count, excluded.problem_count))sql";
constexpr std::string_view sql_insert_tag = "INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (:run_id, :tag)";
constexpr std::string_view sql_finish_run = R"sql(
UPDATE runs SET status = :status, finished_at = :finished_at WHERE run_id = :run_id)sql";

// A stored sample is overwritten only when it failed; a good one is kept so resumes never duplicate.
constexpr std::string_view sql_upsert_sample = R"sql(
INSERT INTO samples (run_id, problem_id, sample_index, verdict, score, finish_reason, input_tokens,
                     cached_input_tokens, output_tokens, reasoning_tokens, latency_s, gpu_seconds, cost_usd,
                     error, created_at, extracted, answer, prompt, reasoning, grading)
VALUES (:run_id, :problem_id, :sample_index, :verdict, :score, :finish_reason, :input_tokens,
        :cached_input_tokens, :output_tokens, :reasoning_tokens, :latency_s, :gpu_seconds, :cost_usd,
        :error, :created_at, :extracted, :answer, :prompt, :reasoning, :grading)
ON CONFLICT (run_id, problem_id, sample_index) DO UPDATE SET
  verdict = excluded.verdict, score = excluded.score, finish_reason = excluded.finish_reason,
  input_tokens = excluded.input_tokens, cached_input_tokens = excluded.cached_input_tokens,
  output_tokens = excluded.output_tokens, reasoning_tokens = excluded.reasoning_tokens,
  latency_s = excluded.latency_s, gpu_seconds = excluded.gpu_seconds, cost_usd = excluded.cost_usd,
  error = excluded.error, created_at = excluded.created_at, extracted = excluded.extracted,
  answer = excluded.answer, prompt = excluded.prompt, reasoning = excluded.reasoning,
  grading = excluded.grading
WHERE samples.error <> '')sql";

constexpr std::string_view sql_finished_samples = R"sql(
SELECT problem_id, sample_index FROM samples WHERE run_id = :run_id AND error = ''
ORDER BY problem_id, sample_index)sql";

// Column order matches read_run(); tags come back as a JSON array in the order they were added.
#define RBENCH_RUN_COLUMNS                                                                                 \
  "r.run_id, m.name, m.backend, s.name, s.data_hash, r.prompt_template, r.generation_config, r.seed, r.k, " \
  "r.problem_count, r.engine_version, r.host, r.started_at, coalesce(r.finished_at, ''), r.status, "      \
  "(SELECT json_group_array(tag) FROM (SELECT tag FROM run_tags t WHERE t.run_id = r.run_id ORDER BY t.rowid))"
#define RBENCH_RUN_FROM " FROM runs r JOIN models m ON m.id = r.model_id JOIN suites s ON s.id = r.suite_id"

constexpr std::string_view sql_run = "SELECT " RBENCH_RUN_COLUMNS RBENCH_RUN_FROM " WHERE r.run_id = :run_id";
constexpr std::string_view sql_all_runs =
    "SELECT " RBENCH_RUN_COLUMNS RBENCH_RUN_FROM " ORDER BY r.started_at DESC, r.rowid DESC";
constexpr std::string_view sql_runs_with_tag = "SELECT " RBENCH_RUN_COLUMNS RBENCH_RUN_FROM
                                               " WHERE r.run_id IN (SELECT run_id FROM run_tags WHERE tag = :tag)"
                                               " ORDER BY r.started_at DESC, r.rowid DESC";
#undef RBENCH_RUN_COLUMNS
#undef RBENCH_RUN_FROM

// Column order matches read_sample().
constexpr std::string_view sql_samples = R"sql(
SELECT run_id, problem_id, sample_index, prompt, reasoning, answer, extracted, verdict, score, finish_reason,
       input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_s, gpu_seconds, cost_usd,
       error, created_at, grading
FROM samples WHERE run_id = :run_id ORDER BY problem_id, sample_index)sql";

// Small columns first, then the texts, in the order they lie in the row; no prompt (reports never need it).
constexpr std::string_view sql_sample_views = R"sql(
SELECT problem_id, sample_index, verdict, score, extracted, finish_reason, output_tokens, reasoning_tokens,
       gpu_seconds, cost_usd, error, answer, reasoning
FROM samples WHERE run_id = :run_id ORDER BY problem_id, sample_index)sql";
constexpr std::string_view sql_sample_views_without_texts = R"sql(
SELECT problem_id, sample_index, verdict, score, extracted, finish_reason, output_tokens, reasoning_tokens,
       gpu_seconds, cost_usd, error, '', ''
FROM samples WHERE run_id = :run_id ORDER BY problem_id, sample_index)sql";

constexpr std::string_view sql_item_scores = R"sql(
SELECT problem_id, count(*), total(score), sum(verdict = 'correct')
FROM samples WHERE run_id = :run_id AND error = '' GROUP BY problem_id ORDER BY problem_id)sql";

constexpr std::string_view sql_sample_count = "SELECT count(*) FROM samples WHERE run_id = :run_id";

constexpr std::string_view sql_output_token_counts =
    "SELECT output_tokens FROM samples WHERE run_id = :run_id AND error = ''";

constexpr std::string_view sql_model_of_run = R"sql(
SELECT m.name, m.backend, m.location, m.weights_hash, m.price_input, m.price_cached_input, m.price_output,
       m.price_date
FROM runs r JOIN models m ON m.id = r.model_id WHERE r.run_id = :run_id)sql";

constexpr std::string_view sql_problems = R"sql(
SELECT p.problem_id, p.gold, p.metadata
FROM problems p JOIN suites s ON s.id = p.suite_id
WHERE s.name = :name AND s.data_hash = :data_hash ORDER BY p.position)sql";

fs::path directory_of(const fs::path& file) { return file.has_parent_path() ? file.parent_path() : fs::path("."); }

bool cannot_create_wal_index(const fs::path& database) {
  std::error_code ignored;
  const std::string base = database.string();
  return !fs::exists(base + "-wal", ignored) && !fs::exists(base + "-shm", ignored) &&
         access(directory_of(database).c_str(), W_OK | X_OK) != 0;
}

// A path for a file: URI, with every byte outside the unreserved set percent-encoded.
std::string uri_path(const fs::path& file) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : file.string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  return encoded;
}

// ---- the connection, its statement cache and error reporting ----

struct Database {
  fs::path path;
  StoreMode mode;
  int busy_timeout_ms;
  int schema_version = 0;
  std::mutex mutex;  // one connection, shared by every thread using this Store
  ConnectionPtr db;
  // Declared after db so that the statements are finalized before the connection closes.
  std::unordered_map<std::string_view, StatementPtr> statements;

  Database(fs::path file, StoreMode open_mode, int timeout_ms)
      : path(std::move(file)), mode(open_mode), busy_timeout_ms(timeout_ms) {}

  [[noreturn]] void fail(int rc, std::string_view doing) const;
  void exec(const char* sql, std::string_view doing);
  sqlite3_stmt* cached(std::string_view sql, std::string_view doing);

  void check_paths_before_opening() const;
  void connect();
  void check_is_database();
  void configure_for_writing();
  int read_user_version();
  bool has_tables();
  void migrate();
  void check_foreign_keys_after_migration();
  void verify_schema_for_reading();
  [[noreturn]] void fail_newer_schema(int found) const;
};

// A cached statement in use: named binds, typed column reads, and a reset when it goes out of
// scope, so that no statement keeps a read snapshot open (that would block WAL checkpoints).
class Query {
 public:
  // One Query at a time per statement: the cache hands the same sqlite3_stmt to every Query of a text.
  Query(Database& database, std::string_view sql, std::string doing)
      : database_(database), statement_(database.cached(sql, doing)), doing_(std::move(doing)) {}
  ~Query() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(const char* name, std::string_view text) {
    return check_bind(sqlite3_bind_text64(statement_, index(name), text.data(), text.size(), SQLITE_TRANSIENT,
                                          SQLITE_UTF8));
  }
  Query& bind(const char* name, const char* text) { return bind(name, std::string_view(text)); }
  Query& bind(const char* name, int64_t value) {
    return check_bind(sqlite3_bind_int64(statement_, index(name), value));
  }
  Query& bind(const char* name, int value) { return bind(name, static_cast<int64_t>(value)); }
  Query& bind(const char* name, double value) {
    return check_bind(sqlite3_bind_double(statement_, index(name), value));
  }
  Query& bind(const char* name, const std::optional<double>& value) {
    if (value) return bind(name, *value);
    return check_bind(sqlite3_bind_null(statement_, index(name)));
  }

  // True when a row is ready, false when the statement is done; throws on any error.
  bool step() {
    int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    database_.fail(rc, doing_);
  }
  void run() {
    while (step()) {
    }
  }
  // Runs to completion and returns SQLITE_DONE or the (extended) error code, for callers that
  // explain some errors in their own words; they pass the others to Database::fail.
  int run_returning_code() {
    int rc;
    while ((rc = sqlite3_step(statement_)) == SQLITE_ROW) {
    }
    return rc;
  }

  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
  }
  // Valid until the next step(): no copy, for scanning large texts.
  std::string_view view(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    if (data == nullptr) return {};
    return {data, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
  }
  int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  double real(int column) const { return sqlite3_column_double(statement_, column); }
  std::optional<double> optional_real(int column) const {
    if (sqlite3_column_type(statement_, column) == SQLITE_NULL) return std::nullopt;
    return real(column);
  }

 private:
  int index(const char* name) const {
    int position = sqlite3_bind_parameter_index(statement_, name);
    if (position == 0) throw std::logic_error(std::string("store: no SQL parameter ") + name);
    return position;
  }
  Query& check_bind(int rc) {
    if (rc != SQLITE_OK) database_.fail(rc, doing_);
    return *this;
  }

  Database& database_;
  sqlite3_stmt* statement_;
  std::string doing_;
};

// BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a transaction
// never fails half-way because another process started writing first. Rolled back unless committed.
class WriteTransaction {
 public:
  WriteTransaction(Database& database, std::string doing) : database_(database), doing_(std::move(doing)) {
    database_.exec("BEGIN IMMEDIATE", doing_);
  }
  ~WriteTransaction() {
    // After an I/O error SQLite may have rolled back already; a second ROLLBACK would only fail.
    if (!committed_ && !sqlite3_get_autocommit(database_.db.get())) {
      sqlite3_exec(database_.db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    database_.exec("COMMIT", doing_);
    committed_ = true;
  }

 private:
  Database& database_;
  std::string doing_;
  bool committed_ = false;
};

std::string system_error_text(int system_errno) {
  if (system_errno == 0) return "";
  return std::string(" (") + std::strerror(system_errno) + ")";
}

}  // namespace

void Database::fail(int rc, std::string_view doing) const {
  sqlite3* connection = db.get();
  std::string detail = connection ? sqlite3_errmsg(connection) : sqlite3_errstr(rc);
  int system_errno = connection ? sqlite3_system_errno(connection) : 0;
  const std::string file = path.string();
  const std::string context = " (while " + std::string(doing) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw UserError("database " + file + " is locked by another process (still busy after " +
                      std::to_string(busy_timeout_ms) + " ms while " + std::string(doing) +
                      "): another rbench run may be writing to it; wait for it to finish or use another database file");
    case SQLITE_READONLY:
      if (mode == StoreMode::read_only) {
        throw UserError("database " + file + " was opened read-only and cannot be written" + context);
      }
      throw UserError("database " + file + " is read-only" + context +
                      ": check that the file and its directory are writable (SQLite creates " + file + "-wal and " +
                      file + "-shm beside it)");
    case SQLITE_FULL:
      throw UserError("disk full while writing database " + file + context + ": " + detail);
    case SQLITE_IOERR:
      throw UserError("I/O error on database " + file + context + ": " + detail + system_error_text(system_errno));
    case SQLITE_NOTADB:
      throw UserError(file + " is not a SQLite database" + context);
    case SQLITE_CORRUPT:
      throw UserError("database " + file + " is corrupt" + context + ": " + detail);
    case SQLITE_CANTOPEN:
      throw UserError("cannot open database " + file + context + ": " + detail + system_error_text(system_errno));
    case SQLITE_PERM:
    case SQLITE_AUTH:
      throw UserError("permission denied on database " + file + context + ": " + detail);
    default:
      throw UserError("database " + file + ": " + detail + context);
  }
}

void Database::exec(const char* sql, std::string_view doing) {
  int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, doing);
}

sqlite3_stmt* Database::cached(std::string_view sql, std::string_view doing) {
  if (auto found = statements.find(sql); found != statements.end()) return found->second.get();
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &statement, nullptr);
  if (rc != SQLITE_OK) fail(rc, doing);
  statements.emplace(sql, StatementPtr(statement));
  return statement;
}

// ---- opening ----

void Database::check_paths_before_opening() const {
  const bool writing = mode == StoreMode::read_write;
  std::error_code ignored;
  if (fs::is_directory(path, ignored)) throw UserError("cannot open database " + path.string() + ": it is a directory");
  const bool exists = fs::exists(path, ignored);
  if (!writing && !exists) {
    throw UserError("cannot open database " + path.string() + " for reading: the file does not exist");
  }
  if (!writing || exists) return;
  const fs::path directory = directory_of(path);
  if (!fs::is_directory(directory, ignored)) {
    throw UserError("cannot create database " + path.string() + ": directory " + directory.string() +
                    " does not exist");
  }
  if (access(directory.c_str(), W_OK | X_OK) != 0) {
    throw UserError("cannot create database " + path.string() + ": directory " + directory.string() +
                    " is not writable (" + std::strerror(errno) + ")");
  }
}

void Database::connect() {
  check_paths_before_opening();
  const bool writing = mode == StoreMode::read_write;
  // Our own mutex serializes every use of the connection, so SQLite's is not needed.
  int flags = (writing ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
  std::string name = path.string();
  if (!writing && cannot_create_wal_index(path)) {
    // A reader of a WAL database needs its -shm file, and SQLite cannot create one in a directory it
    // may not write (a results file shipped to a read-only share). With no -wal file every committed
    // transaction is in the main file, so it can be read as an immutable file instead.
    flags |= SQLITE_OPEN_URI;
    name = "file:" + uri_path(fs::absolute(path)) + "?immutable=1";
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  db.reset(raw);  // SQLite allocates a handle even on failure; it must be closed either way
  if (rc != SQLITE_OK) fail(rc, writing ? "opening or creating it" : "opening it");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);

  // SQLite quietly falls back to read-only when the file is not writable; say so now, not at the
  // first sample of a long run.
  if (writing && sqlite3_db_readonly(db.get(), "main") == 1) fail(SQLITE_READONLY, "opening it for writing");

  check_is_database();
  if (writing) configure_for_writing();
}

void Database::check_is_database() {
  // sqlite3_open_v2 reads nothing; the first query is what finds out that a file is not a database.
  exec("SELECT count(*) FROM sqlite_schema", "reading its schema");
}

void Database::configure_for_writing() {
  // WAL: readers (reports) never block the writer, and each commit is one append. With WAL,
  // synchronous=NORMAL loses nothing committed when the process dies (only on power loss may the
  // last commits roll back), and it saves an fsync per sample.
  std::string journal_mode;
  {
    Query query(*this, "PRAGMA journal_mode = WAL", "switching to WAL journal mode");
    if (query.step()) journal_mode = query.text(0);
  }
  if (journal_mode != "wal") {
    throw UserError("database " + path.string() + " cannot use WAL journal mode (it stays in '" + journal_mode +
                    "' mode); is it on a network filesystem?");
  }
  exec("PRAGMA synchronous = NORMAL", "setting synchronous mode");
}

int Database::read_user_version() {
  Query query(*this, "PRAGMA user_version", "reading the schema version");
  return query.step() ? static_cast<int>(query.integer(0)) : 0;
}

bool Database::has_tables() {
  Query query(*this, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", "reading its schema");
  return query.step() && query.integer(0) > 0;
}

void Database::fail_newer_schema(int found) const {
  throw UserError("database " + path.string() + " has schema version " + std::to_string(found) +
                  ", newer than version " + std::to_string(store_schema::latest_version()) +
                  " that this rbench build knows; use a newer rbench to open it");
}

void Database::migrate() {
  // Checked before taking the write lock, so that a newer file is refused even while it is busy.
  if (int found = read_user_version(); found > store_schema::latest_version()) fail_newer_schema(found);

  // Always a write transaction, even with nothing to migrate: it proves now that the file, its
  // directory (for the -wal and -shm files) and the lock are all available for writing.
  WriteTransaction transaction(*this, "preparing it for writing");
  int version = read_user_version();  // again: another process may have migrated meanwhile
  if (version > store_schema::latest_version()) fail_newer_schema(version);
  if (version == 0 && has_tables()) {
    throw UserError(path.string() + " is a SQLite database but not an rbench store (it has tables and no rbench "
                                    "schema version); refusing to add rbench tables to it");
  }
  for (const auto& step : store_schema::migrations()) {
    if (step.version <= version) continue;
    exec(step.sql, "migrating the schema to version " + std::to_string(step.version));
  }
  if (version < store_schema::latest_version()) {
    check_foreign_keys_after_migration();
    exec(("PRAGMA user_version = " + std::to_string(store_schema::latest_version())).c_str(),
         "recording the schema version");
  }
  transaction.commit();
  schema_version = store_schema::latest_version();
}

void Database::check_foreign_keys_after_migration() {
  Query query(*this, "PRAGMA foreign_key_check", "checking references after migrating");
  if (query.step()) {
    throw UserError("database " + path.string() + ": migrating to schema version " +
                    std::to_string(store_schema::latest_version()) + " would leave rows of table " +
                    query.text(0) + " referring to missing rows; the file was left unchanged");
  }
}

void Database::verify_schema_for_reading() {
  int version = read_user_version();
  if (version > store_schema::latest_version()) fail_newer_schema(version);
  if (version == 0) {
    throw UserError("database " + path.string() + (has_tables() ? " is not an rbench store" : " is empty") +
                    " (no rbench schema); nothing to read");
  }
  if (version < store_schema::latest_version()) {
    throw UserError("database " + path.string() + " has schema version " + std::to_string(version) +
                    ", older than version " + std::to_string(store_schema::latest_version()) +
                    " that this build reads; open it once for writing (any rbench run) to migrate it");
  }
  schema_version = version;
}

struct Store::Impl : Database {
  using Database::Database;
};

std::unique_ptr<Store> Store::open(const fs::path& path, StoreMode mode) {
  auto impl = std::make_unique<Impl>(path, mode, busy_timeout_from_environment());
  impl->connect();
  // Foreign keys stay off while migrating (they cannot change inside a transaction): a later step
  // may rebuild a table the SQLite way (create new, copy, drop old, rename), which must not
  // cascade deletes; migrate() checks every reference before it commits instead.
  if (mode == StoreMode::read_write) {
    impl->migrate();
  } else {
    impl->verify_schema_for_reading();
  }
  impl->exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

int Store::current_schema_version() { return store_schema::latest_version(); }
int Store::schema_version() const { return impl_->schema_version; }
const fs::path& Store::path() const { return impl_->path; }

// ---- writing ----

int64_t Store::put_model(const ModelRecord& model) {
  std::lock_guard lock(impl_->mutex);
  const std::string doing = "storing model " + model.name;
  WriteTransaction transaction(*impl_, doing);
  Query query(*impl_, sql_upsert_model, doing);
  query.bind(":backend", model.backend)
      .bind(":name", model.name)
      .bind(":location", model.location)
      .bind(":weights_hash", model.weights_hash)
      .bind(":price_input", model.price_input)
      .bind(":price_cached_input", model.price_cached_input)
      .bind(":price_output", model.price_output)
      .bind(":price_date", model.price_date);
  query.step();  // RETURNING yields the row on insert and on update alike
  int64_t id = query.integer(0);
  query.run();
  transaction.commit();
  return id;
}

int64_t Store::put_suite(const SuiteRecord& suite) {
  std::lock_guard lock(impl_->mutex);
  const std::string doing = "storing suite " + suite.name;
  WriteTransaction transaction(*impl_, doing);
  {
    Query existing(*impl_, sql_find_suite, doing);
    existing.bind(":name", suite.name).bind(":data_hash", suite.data_hash);
    if (existing.step()) return existing.integer(0);  // the hash stands for the problems: already stored
  }
  int64_t suite_id = 0;
  {
    Query insert(*impl_, sql_insert_suite, doing);
    insert.bind(":name", suite.name).bind(":data_hash", suite.data_hash).bind(":created_at", utc_now_iso8601());
    insert.step();
    suite_id = insert.integer(0);
    insert.run();
  }
  for (std::size_t position = 0; position < suite.problems.size(); ++position) {
    const ProblemRecord& problem = suite.problems[position];
    const std::string problem_doing = doing + ", problem " + problem.problem_id;
    Query insert(*impl_, sql_insert_problem, problem_doing);
    insert.bind(":suite_id", suite_id)
        .bind(":problem_id", problem.problem_id)
        .bind(":position", static_cast<int64_t>(position))
        .bind(":gold", problem.gold)
        .bind(":metadata", to_json_text(problem.metadata));
    int rc = insert.run_returning_code();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      throw UserError("suite " + suite.name + " has problem id " + problem.problem_id +
                      " more than once; problem ids must be unique within a suite");
    }
    if (rc != SQLITE_DONE) impl_->fail(rc, problem_doing);
  }
  transaction.commit();
  return suite_id;
}

void Store::begin_run(const RunRecord& run, int64_t model_id, int64_t suite_id) {
  std::lock_guard lock(impl_->mutex);
  const std::string doing = "starting run " + run.run_id;
  WriteTransaction transaction(*impl_, doing);
  {
    Query upsert(*impl_, sql_upsert_run, doing);
    upsert.bind(":run_id", run.run_id)
        .bind(":model_id", model_id)
        .bind(":suite_id", suite_id)
        .bind(":prompt_template", run.prompt_template)
        .bind(":generation_config", to_json_text(run.generation_config))
        .bind(":seed", static_cast<int64_t>(run.seed))  // same bits; read back as uint64_t
        .bind(":k", run.k)
        .bind(":problem_count", run.problem_count)
        .bind(":engine_version", run.engine_version)
        .bind(":host", run.host)
        .bind(":started_at", utc_now_iso8601());
    int rc = upsert.run_returning_code();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      throw UserError("cannot start run " + run.run_id + " in " + impl_->path.string() + ": model id " +
                      std::to_string(model_id) + " or suite id " + std::to_string(suite_id) +
                      " is not stored (use the ids put_model and put_suite returned)");
    }
    if (rc != SQLITE_DONE) impl_->fail(rc, doing);
  }
  for (const std::string& tag : run.tags) {
    Query insert(*impl_, sql_insert_tag, doing);
    insert.bind(":run_id", run.run_id).bind(":tag", tag).run();
  }
  transaction.commit();
}

void Store::finish_run(const std::string& run_id, const std::string& status) {
  if (!is_allowed_final_status(status)) {
    throw UserError("cannot finish run " + run_id + " with status '" + status +
                    "': use finished, incomplete, failed or interrupted");
  }
  std::lock_guard lock(impl_->mutex);
  const std::string doing = "finishing run " + run_id;
  WriteTransaction transaction(*impl_, doing);
  Query update(*impl_, sql_finish_run, doing);
  update.bind(":status", status).bind(":finished_at", utc_now_iso8601()).bind(":run_id", run_id).run();
  if (sqlite3_changes(impl_->db.get()) == 0) {
    throw UserError("cannot finish run " + run_id + ": no such run in " + impl_->path.string());
  }
  transaction.commit();
}

namespace {

// Writes one sample inside the caller's transaction; false when a good sample was already stored.
bool upsert_sample(Database& database, const SampleRecord& sample) {
  const std::string doing =
      "writing sample " + std::to_string(sample.sample_index) + " of problem " + sample.problem_id;
  Query upsert(database, sql_upsert_sample, doing);
  upsert.bind(":run_id", sample.run_id)
      .bind(":problem_id", sample.problem_id)
      .bind(":sample_index", sample.sample_index)
      .bind(":verdict", sample.verdict)
      .bind(":score", sample.score)
      .bind(":finish_reason", sample.finish_reason)
      .bind(":input_tokens", sample.input_tokens)
      .bind(":cached_input_tokens", sample.cached_input_tokens)
      .bind(":output_tokens", sample.output_tokens)
      .bind(":reasoning_tokens", sample.reasoning_tokens)
      .bind(":latency_s", sample.latency_s)
      .bind(":gpu_seconds", sample.gpu_seconds)
      .bind(":cost_usd", sample.cost_usd)
      .bind(":error", sample.error)
      .bind(":created_at", utc_now_iso8601())
      .bind(":extracted", sample.extracted)
      .bind(":answer", sample.answer)
      .bind(":prompt", sample.prompt)
      .bind(":reasoning", sample.reasoning)
      .bind(":grading", sample.grading);
  int rc = upsert.run_returning_code();
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    throw UserError("cannot store a sample of run " + sample.run_id + " in " + database.path.string() +
                    ": no such run (begin_run first)");
  }
  if (rc != SQLITE_DONE) database.fail(rc, doing);
  // 0 rows changed: a good sample was already stored and the upsert's WHERE kept it.
  return sqlite3_changes(database.db.get()) > 0;
}

}  // namespace

bool Store::write_sample(const SampleRecord& sample) {
  std::lock_guard lock(impl_->mutex);
  WriteTransaction transaction(*impl_, "writing sample " + std::to_string(sample.sample_index) + " of problem " +
                                           sample.problem_id);
  const bool written = upsert_sample(*impl_, sample);
  transaction.commit();
  return written;
}

int Store::write_samples(const std::vector<SampleRecord>& samples) {
  std::lock_guard lock(impl_->mutex);
  WriteTransaction transaction(*impl_, "writing " + std::to_string(samples.size()) + " samples");
  int written = 0;
  for (const SampleRecord& sample : samples) written += upsert_sample(*impl_, sample);
  transaction.commit();
  return written;
}

// ---- reading ----

namespace {

RunRecord read_run(const Query& row, const std::string& file) {
  RunRecord run;
  run.run_id = row.text(0);
  run.model_name = row.text(1);
  run.backend = row.text(2);
  run.suite_name = row.text(3);
  run.suite_hash = row.text(4);
  run.prompt_template = row.text(5);
  run.generation_config = nlohmann::json::parse(row.text(6), nullptr, false);
  if (run.generation_config.is_discarded()) {
    throw UserError("database " + file + ": run " + run.run_id + " has a generation_config that is not JSON");
  }
  run.seed = static_cast<uint64_t>(row.integer(7));
  run.k = static_cast<int>(row.integer(8));
  run.problem_count = static_cast<int>(row.integer(9));
  run.engine_version = row.text(10);
  run.host = row.text(11);
  run.started_at = row.text(12);
  run.finished_at = row.text(13);
  run.status = row.text(14);
  for (const auto& tag : nlohmann::json::parse(row.text(15))) run.tags.push_back(tag.get<std::string>());
  return run;
}

SampleRecord read_sample(const Query& row) {
  SampleRecord sample;
  sample.run_id = row.text(0);
  sample.problem_id = row.text(1);
  sample.sample_index = static_cast<int>(row.integer(2));
  sample.prompt = row.text(3);
  sample.reasoning = row.text(4);
  sample.answer = row.text(5);
  sample.extracted = row.text(6);
  sample.verdict = row.text(7);
  sample.score = row.real(8);
  sample.finish_reason = row.text(9);
  sample.input_tokens = row.integer(10);
  sample.cached_input_tokens = row.integer(11);
  sample.output_tokens = row.integer(12);
  sample.reasoning_tokens = row.integer(13);
  sample.latency_s = row.real(14);
  sample.gpu_seconds = row.optional_real(15);
  sample.cost_usd = row.optional_real(16);
  sample.error = row.text(17);
  sample.created_at = row.text(18);
  sample.grading = row.text(19);
  return sample;
}

}  // namespace

std::vector<std::pair<std::string, int>> Store::finished_samples(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_finished_samples, "listing finished samples of run " + run_id);
  query.bind(":run_id", run_id);
  std::vector<std::pair<std::string, int>> finished;
  while (query.step()) finished.emplace_back(query.text(0), static_cast<int>(query.integer(1)));
  return finished;
}

std::optional<RunRecord> Store::run(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_run, "reading run " + run_id);
  query.bind(":run_id", run_id);
  if (!query.step()) return std::nullopt;
  return read_run(query, impl_->path.string());
}

std::vector<RunRecord> Store::runs(const std::string& tag) const {
  std::lock_guard lock(impl_->mutex);
  const std::string doing = tag.empty() ? std::string("listing runs") : "listing runs tagged " + tag;
  Query query(*impl_, tag.empty() ? sql_all_runs : sql_runs_with_tag, doing);
  if (!tag.empty()) query.bind(":tag", tag);
  std::vector<RunRecord> runs;
  while (query.step()) runs.push_back(read_run(query, impl_->path.string()));
  return runs;
}

std::vector<SampleRecord> Store::samples(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_samples, "reading samples of run " + run_id);
  query.bind(":run_id", run_id);
  std::vector<SampleRecord> samples;
  while (query.step()) samples.push_back(read_sample(query));
  return samples;
}

void Store::for_each_sample(const std::string& run_id, const std::function<void(const SampleView&)>& visit,
                            SampleTexts texts) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, texts == SampleTexts::read ? sql_sample_views : sql_sample_views_without_texts,
              "reading samples of run " + run_id);
  query.bind(":run_id", run_id);
  SampleView sample;
  while (query.step()) {
    sample.problem_id = query.view(0);
    sample.sample_index = static_cast<int>(query.integer(1));
    sample.verdict = query.view(2);
    sample.score = query.real(3);
    sample.extracted = query.view(4);
    sample.finish_reason = query.view(5);
    sample.output_tokens = query.integer(6);
    sample.reasoning_tokens = query.integer(7);
    sample.gpu_seconds = query.optional_real(8);
    sample.cost_usd = query.optional_real(9);
    sample.error = query.view(10);
    sample.answer = query.view(11);
    sample.reasoning = query.view(12);
    visit(sample);
  }
}

std::vector<ItemScore> Store::item_scores(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_item_scores, "scoring the problems of run " + run_id);
  query.bind(":run_id", run_id);
  std::vector<ItemScore> items;
  while (query.step()) {
    items.push_back(
        {query.text(0), static_cast<int>(query.integer(1)), query.real(2), static_cast<int>(query.integer(3))});
  }
  return items;
}

int64_t Store::sample_count(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_sample_count, "counting the samples of run " + run_id);
  query.bind(":run_id", run_id);
  query.step();
  return query.integer(0);
}

std::vector<int64_t> Store::output_token_counts(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_output_token_counts, "reading token counts of run " + run_id);
  query.bind(":run_id", run_id);
  std::vector<int64_t> counts;
  while (query.step()) counts.push_back(query.integer(0));
  return counts;
}

std::optional<ModelRecord> Store::model_of_run(const std::string& run_id) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_model_of_run, "reading the model of run " + run_id);
  query.bind(":run_id", run_id);
  if (!query.step()) return std::nullopt;
  ModelRecord model;
  model.name = query.text(0);
  model.backend = query.text(1);
  model.location = query.text(2);
  model.weights_hash = query.text(3);
  model.price_input = query.optional_real(4);
  model.price_cached_input = query.optional_real(5);
  model.price_output = query.optional_real(6);
  model.price_date = query.text(7);
  return model;
}

std::vector<ProblemRecord> Store::problems(const std::string& suite_name, const std::string& data_hash) const {
  std::lock_guard lock(impl_->mutex);
  Query query(*impl_, sql_problems, "reading problems of suite " + suite_name);
  query.bind(":name", suite_name).bind(":data_hash", data_hash);
  std::vector<ProblemRecord> problems;
  while (query.step()) {
    ProblemRecord problem;
    problem.problem_id = query.text(0);
    problem.gold = query.text(1);
    problem.metadata = nlohmann::json::parse(query.text(2), nullptr, false);
    if (problem.metadata.is_discarded()) {
      throw UserError("database " + impl_->path.string() + ": problem " + problem.problem_id + " of suite " +
                      suite_name + " has metadata that is not JSON");
    }
    problems.push_back(std::move(problem));
  }
  return problems;
}

}  // namespace rbench
