#include "suites/jsonl.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "common/error.h"

namespace rbench {

std::string RecordLocation::str() const { return fmt::format("{}:{}", source, line); }

void throw_field_error(const RecordLocation& where, std::string_view field, std::string_view problem) {
  throw UserError(fmt::format("{}: field '{}' {}", where.str(), field, problem));
}

bool JsonRecord::has(std::string_view field) const {
  const auto it = value_.find(field);
  return it != value_.end() && !it->is_null();
}

const nlohmann::json& JsonRecord::at(std::string_view field) const {
  const auto it = value_.find(field);
  if (it == value_.end() || it->is_null()) fail(field, "is missing");
  return *it;
}

std::string JsonRecord::string(std::string_view field) const {
  const auto& value = at(field);
  if (!value.is_string()) fail(field, fmt::format("must be a string, not {}", value.type_name()));
  return value.get<std::string>();
}

std::optional<std::string> JsonRecord::optional_string(std::string_view field) const {
  if (!has(field)) return std::nullopt;
  return string(field);
}

int64_t JsonRecord::integer(std::string_view field) const {
  const auto& value = at(field);
  if (!value.is_number_integer()) fail(field, fmt::format("must be an integer, not {}", value.type_name()));
  return value.get<int64_t>();
}

const nlohmann::json& JsonRecord::object(std::string_view field) const {
  const auto& value = at(field);
  if (!value.is_object()) fail(field, fmt::format("must be an object, not {}", value.type_name()));
  return value;
}

const nlohmann::json& JsonRecord::array(std::string_view field) const {
  const auto& value = at(field);
  if (!value.is_array()) fail(field, fmt::format("must be an array, not {}", value.type_name()));
  return value;
}

nlohmann::json JsonRecord::array_or_json_text(std::string_view field) const {
  const auto& value = at(field);
  if (value.is_array()) return value;
  if (!value.is_string()) fail(field, fmt::format("must be an array or a JSON string, not {}", value.type_name()));
  nlohmann::json parsed = nlohmann::json::parse(value.get<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) fail(field, "holds text that is not a JSON array");
  return parsed;
}

std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("cannot read {}", path.string()));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw UserError(fmt::format("error while reading {}", path.string()));
  return std::move(bytes).str();
}

void read_jsonl(const std::filesystem::path& path, const std::function<void(const JsonRecord&)>& visit) {
  // Streamed line by line: LiveCodeBench's test files run to hundreds of megabytes.
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("cannot read {}", path.string()));
  std::string line;
  for (size_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.ends_with('\r')) line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const RecordLocation where{path.string(), line_number};
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw UserError(fmt::format("{}: invalid JSON: {}", where.str(), e.what()));
    }
    if (!value.is_object()) {
      throw UserError(fmt::format("{}: expected a JSON object, found {}", where.str(), value.type_name()));
    }
    visit(JsonRecord(value, where));
  }
  if (in.bad()) throw UserError(fmt::format("error while reading {}", path.string()));
}

}  // namespace rbench
