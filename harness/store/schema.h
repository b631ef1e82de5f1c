#pragma once
// The store's schema as an ordered list of migration steps. `PRAGMA user_version` holds the number of
// the last step applied; opening a database in read-write mode applies the missing steps in order,
// all in one transaction. To change the schema, append a step: never edit one that has shipped,
// since databases in the wild already ran it.
#include <span>

namespace rbench::store_schema {

struct Migration {
  int version;          // user_version once this step has run: 1, 2, 3, ... with no gaps
  const char* summary;  // one line for humans reading the history
  const char* sql;      // one or more statements, run with sqlite3_exec
};

// Every step, oldest first.
std::span<const Migration> migrations();

// The version a database has once every step has run: what this build reads and writes.
int latest_version();

}  // namespace rbench::store_schema
