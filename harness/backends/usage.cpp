#include "harness/backends/usage.h"

namespace rbench {

namespace {

int64_t count_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return 0;
  return it->get<int64_t>();
}

const nlohmann::json& member_or_null(const nlohmann::json& object, const char* key) {
  static const nlohmann::json null;
  if (!object.is_object()) return null;
  const auto it = object.find(key);
  return it == object.end() ? null : *it;
}

}  // namespace

TokenUsage usage_from_openai_json(const nlohmann::json& usage) {
  TokenUsage result;
  result.input = count_at(usage, "prompt_tokens");
  result.cached_input = count_at(member_or_null(usage, "prompt_tokens_details"), "cached_tokens");
  if (result.cached_input == 0) result.cached_input = count_at(usage, "prompt_cache_hit_tokens");
  result.output = count_at(usage, "completion_tokens");
  result.reasoning = count_at(member_or_null(usage, "completion_tokens_details"), "reasoning_tokens");
  return result;
}

}  // namespace rbench
