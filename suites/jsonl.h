#pragma once
// Reading published data files record by record, with errors that name FILE:LINE and the field.
// Every file-backed suite reads its JSONL through read_jsonl and its fields through JsonRecord.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace rbench {

// Where a record came from: "path/to/file.jsonl:12".
struct RecordLocation {
  std::string source;
  size_t line = 0;
  std::string str() const;
};

// Throws UserError "FILE:LINE: field 'NAME' PROBLEM".
[[noreturn]] void throw_field_error(const RecordLocation& where, std::string_view field, std::string_view problem);

// One JSON object of a data file. Accessors throw UserError naming the location and the field.
class JsonRecord {
 public:
  JsonRecord(const nlohmann::json& value, RecordLocation where) : value_(value), where_(std::move(where)) {}

  const RecordLocation& where() const { return where_; }
  const nlohmann::json& json() const { return value_; }
  bool has(std::string_view field) const;

  const nlohmann::json& at(std::string_view field) const;  // present and not null
  std::string string(std::string_view field) const;        // a JSON string
  std::optional<std::string> optional_string(std::string_view field) const;
  int64_t integer(std::string_view field) const;  // a JSON integer
  const nlohmann::json& object(std::string_view field) const;
  const nlohmann::json& array(std::string_view field) const;
  // A JSON array, or a string that holds one (Hugging Face stores some list columns as JSON text).
  nlohmann::json array_or_json_text(std::string_view field) const;

  [[noreturn]] void fail(std::string_view field, std::string_view problem) const {
    throw_field_error(where_, field, problem);
  }

 private:
  const nlohmann::json& value_;
  RecordLocation where_;
};

// Calls `visit` with each non-blank line of a JSON Lines file, parsed; each line must be an object.
void read_jsonl(const std::filesystem::path& path, const std::function<void(const JsonRecord&)>& visit);

// The bytes of a file; throws UserError naming it when it cannot be read.
std::string read_file_bytes(const std::filesystem::path& path);

}  // namespace rbench
