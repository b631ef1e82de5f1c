#include "suites/csv.h"

#include <fmt/format.h>

#include "common/error.h"

namespace rbench {

CsvReader::CsvReader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {
  if (text_.starts_with("\xEF\xBB\xBF")) position_ = 3;  // a UTF-8 byte order mark is not data
}

bool CsvReader::at_record_end() const {
  return position_ >= text_.size() || text_[position_] == '\n' || text_.substr(position_).starts_with("\r\n");
}

void CsvReader::skip_record_end() {
  if (position_ >= text_.size()) return;
  position_ += text_[position_] == '\r' ? 2 : 1;
  ++line_;
}

bool CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  while (position_ < text_.size() && at_record_end()) skip_record_end();  // blank lines
  if (position_ >= text_.size()) return false;
  record_line_ = line_;
  while (true) {
    const bool quoted = position_ < text_.size() && text_[position_] == '"';
    fields.push_back(quoted ? parse_quoted_field() : parse_plain_field());
    if (at_record_end()) {
      skip_record_end();
      return true;
    }
    if (text_[position_] != ',') {
      throw UserError(
          fmt::format("{}:{}: unexpected character after a closing quote (field {} of the record "
                      "starting at line {})",
                      source_, line_, fields.size(), record_line_));
    }
    ++position_;  // the comma; a field follows, possibly empty
  }
}

std::string CsvReader::parse_quoted_field() {
  const size_t opened_at_line = line_;
  ++position_;  // the opening quote
  std::string field;
  while (position_ < text_.size()) {
    const char c = text_[position_++];
    if (c == '"') {
      if (position_ < text_.size() && text_[position_] == '"') {
        field.push_back('"');
        ++position_;
        continue;
      }
      return field;
    }
    if (c == '\n') ++line_;
    field.push_back(c);
  }
  throw UserError(fmt::format("{}:{}: quoted field is never closed", source_, opened_at_line));
}

std::string CsvReader::parse_plain_field() {
  // A quote inside an unquoted field is kept as a character, as Python's csv module does.
  const size_t start = position_;
  while (position_ < text_.size() && text_[position_] != ',' && !at_record_end()) ++position_;
  return std::string(text_.substr(start, position_ - start));
}

CsvTable::CsvTable(std::string_view text, std::string source) {
  CsvReader reader(text, source);
  if (!reader.next(columns_)) throw UserError(fmt::format("{}: no header row", source));
  auto index = std::make_shared<ColumnIndex>();
  for (size_t i = 0; i < columns_.size(); ++i) index->emplace(columns_[i], i);
  std::vector<std::string> fields;
  while (reader.next(fields)) {
    if (fields.size() != columns_.size()) {
      throw UserError(
          fmt::format("{}: {} fields where the header has {}", reader.where().str(), fields.size(), columns_.size()));
    }
    rows_.push_back(Row{index, std::move(fields), reader.where()});
  }
}

const std::string& CsvTable::Row::operator[](std::string_view column) const {
  const auto it = columns->find(column);
  if (it == columns->end()) throw_field_error(where, column, "is not a column of this file");
  return fields[it->second];
}

}  // namespace rbench
