#pragma once
// A small RFC 4180 CSV reader: comma-separated fields, CRLF or LF record ends, quoted fields that may
// hold commas, line breaks and doubled quotes ("" for "). It reads text already in memory, so data that
// must never touch the disk in plain text (GPQA) is parsed straight from the decrypted buffer.
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "suites/jsonl.h"

namespace rbench {

class CsvReader {
 public:
  // `source` names the text in error messages (e.g. "dataset.zip:dataset/gpqa_diamond.csv").
  CsvReader(std::string_view text, std::string source);

  // Reads the next record into `fields`; false at the end. Blank lines are skipped.
  // Throws UserError naming SOURCE:LINE for an unterminated quoted field or text after a closing quote.
  bool next(std::vector<std::string>& fields);

  // The location of the record `next` returned last (its first line).
  RecordLocation where() const { return {source_, record_line_}; }

 private:
  std::string parse_quoted_field();
  std::string parse_plain_field();
  bool at_record_end() const;
  void skip_record_end();

  std::string_view text_;
  std::string source_;
  size_t position_ = 0;
  size_t line_ = 1;
  size_t record_line_ = 0;
};

// A CSV file whose first record names the columns.
class CsvTable {
 public:
  CsvTable(std::string_view text, std::string source);

  using ColumnIndex = std::map<std::string, size_t, std::less<>>;

  struct Row {
    std::shared_ptr<const ColumnIndex> columns;
    std::vector<std::string> fields;
    RecordLocation where;
    // The value of a named column; throws UserError naming SOURCE:LINE and the column when it is absent.
    const std::string& operator[](std::string_view column) const;
  };

  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::vector<std::string> columns_;
  std::vector<Row> rows_;
};

}  // namespace rbench
