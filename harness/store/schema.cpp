#include "harness/store/schema.h"

#include <array>

namespace rbench::store_schema {
namespace {

// Version 1: the first schema.
// - Optional numbers (prices, gpu_seconds, cost_usd) are NULL when unknown, never 0.
// - JSON values (problem metadata, generation_config) are stored as text.
// - Timestamps are ISO 8601 UTC text ("2026-11-28T11:30:00Z"), so they sort as strings.
// - samples keeps its small columns first and the large texts (prompt, reasoning) last: SQLite
//   stores a row's columns in order and spills the tail of a large row to overflow pages, so
//   queries that read only the small columns (finished_samples, scoring summaries) never walk them.
// - The primary key of samples starts with run_id, so its index also serves "all samples of a run"
//   and no separate samples(run_id) index is needed (it would only slow every write).
constexpr const char* version_1_sql = R"sql(
CREATE TABLE models (
  id                 INTEGER PRIMARY KEY,
  backend            TEXT NOT NULL,
  name               TEXT NOT NULL,
  location           TEXT NOT NULL,   -- endpoint or path
  weights_hash       TEXT NOT NULL,
  price_input        REAL,            -- $ per million tokens; NULL when unknown
  price_cached_input REAL,
  price_output       REAL,
  price_date         TEXT NOT NULL DEFAULT '',
  UNIQUE (backend, name, location, weights_hash)
);

CREATE TABLE suites (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  data_hash  TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (name, data_hash)
);

CREATE TABLE problems (
  suite_id   INTEGER NOT NULL REFERENCES suites(id) ON DELETE CASCADE,
  problem_id TEXT NOT NULL,
  position   INTEGER NOT NULL,        -- order within the suite, as the loader gave it
  gold       TEXT NOT NULL,
  metadata   TEXT NOT NULL,           -- JSON
  PRIMARY KEY (suite_id, problem_id)
);

CREATE TABLE runs (
  run_id            TEXT PRIMARY KEY,
  model_id          INTEGER NOT NULL REFERENCES models(id),
  suite_id          INTEGER NOT NULL REFERENCES suites(id),
  prompt_template   TEXT NOT NULL,
  generation_config TEXT NOT NULL,    -- JSON
  seed              INTEGER NOT NULL, -- the uint64 seed's bits as a signed 64-bit integer
  k                 INTEGER NOT NULL,
  problem_count     INTEGER NOT NULL,
  engine_version    TEXT NOT NULL,
  host              TEXT NOT NULL,
  started_at        TEXT NOT NULL,
  finished_at       TEXT,             -- NULL while running
  status            TEXT NOT NULL     -- running | finished | incomplete | failed | interrupted
);
CREATE INDEX runs_by_suite ON runs(suite_id);
CREATE INDEX runs_by_model ON runs(model_id);

CREATE TABLE run_tags (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  tag    TEXT NOT NULL,
  UNIQUE (run_id, tag)
);
CREATE INDEX run_tags_by_tag ON run_tags(tag);

CREATE TABLE samples (
  run_id              TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  problem_id          TEXT NOT NULL,
  sample_index        INTEGER NOT NULL,
  verdict             TEXT NOT NULL,  -- correct | incorrect | no_answer | error
  score               REAL NOT NULL,
  finish_reason       TEXT NOT NULL,
  input_tokens        INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  output_tokens       INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  latency_s           REAL NOT NULL,
  gpu_seconds         REAL,           -- NULL when not measured
  cost_usd            REAL,           -- NULL when unknown
  error               TEXT NOT NULL,  -- '' for a good sample; otherwise it is redone on resume
  created_at          TEXT NOT NULL,
  extracted           TEXT NOT NULL,
  answer              TEXT NOT NULL,
  prompt              TEXT NOT NULL,
  reasoning           TEXT NOT NULL,
  PRIMARY KEY (run_id, problem_id, sample_index)
);
)sql";

// Version 2: the scorer's details per sample (JSON object; '{}' for samples graded before it existed).
constexpr const char* version_2_sql = "ALTER TABLE samples ADD COLUMN grading TEXT NOT NULL DEFAULT '{}';";

constexpr std::array<Migration, 2> all_migrations{{
    {1, "models, suites, problems, runs, run_tags, samples", version_1_sql},
    {2, "samples.grading: the scorer's details", version_2_sql},
    // Append new steps here, e.g. {3, "what changed", "ALTER TABLE ...;"}.
}};

constexpr bool versions_are_contiguous() {
  for (std::size_t i = 0; i < all_migrations.size(); ++i) {
    if (all_migrations[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(versions_are_contiguous(), "migration versions must be 1, 2, 3, ... in order");

}  // namespace

std::span<const Migration> migrations() { return all_migrations; }

int latest_version() { return all_migrations.back().version; }

}  // namespace rbench::store_schema
