#include "harness/backends/replay_backend.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/hash.h"
#include "harness/backends/reasoning.h"
#include "harness/backends/usage.h"

namespace rbench {

namespace {

using Json = nlohmann::json;

struct ReplayLine {
  int line = 0;
  GenerationResult result;
};

std::string string_field(const Json& object, const char* key, bool required, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) throw UserError(fmt::format("{}: field '{}' is missing", where, key));
    return "";
  }
  if (!it->is_string()) throw UserError(fmt::format("{}: field '{}' must be a string", where, key));
  return it->get<std::string>();
}

GenerationResult result_from_line(const Json& object, const std::string& where) {
  GenerationResult result;
  const std::string content = string_field(object, "content", true, where);
  result.reasoning = string_field(object, "reasoning_content", false, where);
  if (result.reasoning.empty()) {
    ReasoningSplit split = split_reasoning(content, false);
    result.reasoning = std::move(split.reasoning);
    result.answer = std::move(split.answer);
  } else {
    result.answer = content;
  }
  result.finish_reason = string_field(object, "finish_reason", false, where);
  if (result.finish_reason.empty()) result.finish_reason = "stop";
  try {
    if (object.contains("usage")) result.usage = usage_from_openai_json(object["usage"]);
    if (object.contains("latency_s")) result.latency_s = object["latency_s"].get<double>();
  } catch (const Json::exception& e) {
    throw UserError(fmt::format("{}: bad 'usage' or 'latency_s': {}", where, e.what()));
  }
  return result;
}

class ReplayBackend final : public Backend {
 public:
  explicit ReplayBackend(const std::filesystem::path& file) : file_(file) {
    std::ifstream in(file);
    if (!in) throw UserError(fmt::format("cannot read replay file {}", file.string()));
    std::string text;
    for (int line_number = 1; std::getline(in, text); ++line_number) {
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      add_line(text, line_number);
    }
    if (completions_.empty()) throw UserError(fmt::format("replay file {} has no completions", file.string()));
    weights_hash_ = sha256_file_hex(file);
  }

  ModelIdentity identity() const override {
    return {model_name_.empty() ? file_.stem().string() : model_name_, "replay", file_.string(), weights_hash_};
  }

  GenerationResult generate(const GenerationRequest& request) override {
    const auto it = completions_.find({request.problem_id, request.sample_index});
    if (it == completions_.end()) {
      GenerationResult missing;
      missing.finish_reason = "error";
      missing.error = fmt::format("replay file {} has no completion for problem '{}' sample {}", file_.string(),
                                  request.problem_id, request.sample_index);
      return missing;
    }
    return it->second.result;
  }

 private:
  void add_line(const std::string& text, int line_number) {
    const std::string where = fmt::format("{}:{}", file_.string(), line_number);
    Json object;
    try {
      object = Json::parse(text);
    } catch (const Json::parse_error& e) {
      throw UserError(fmt::format("{}: not valid JSON ({})", where, e.what()));
    }
    if (!object.is_object()) throw UserError(fmt::format("{}: expected a JSON object", where));
    const std::string problem_id = string_field(object, "problem_id", true, where);
    int sample_index = 0;
    if (object.contains("sample_index")) {
      if (!object["sample_index"].is_number_integer() || object["sample_index"].get<int>() < 0) {
        throw UserError(fmt::format("{}: field 'sample_index' must be a non-negative integer", where));
      }
      sample_index = object["sample_index"].get<int>();
    }
    if (model_name_.empty()) model_name_ = string_field(object, "model", false, where);
    const auto [it, inserted] =
        completions_.try_emplace({problem_id, sample_index}, ReplayLine{line_number, result_from_line(object, where)});
    if (!inserted) {
      throw UserError(fmt::format("{}: problem '{}' sample {} already given on line {}", where, problem_id,
                                  sample_index, it->second.line));
    }
  }

  std::filesystem::path file_;
  std::string model_name_;
  std::string weights_hash_;
  std::map<std::pair<std::string, int>, ReplayLine> completions_;
};

}  // namespace

std::unique_ptr<Backend> make_replay_backend(const std::filesystem::path& file) {
  return std::make_unique<ReplayBackend>(file);
}

}  // namespace rbench
