#pragma once
// The OpenAI `usage` object, as sent by OpenAI, DeepSeek, vLLM and SGLang, mapped to TokenUsage.
#include <nlohmann/json.hpp>

#include "harness/backends/backend.h"

namespace rbench {

// prompt_tokens -> input; prompt_tokens_details.cached_tokens or DeepSeek's prompt_cache_hit_tokens
// -> cached_input; completion_tokens -> output; completion_tokens_details.reasoning_tokens -> reasoning.
// Missing or null fields count as 0; a field of the wrong type throws nlohmann::json::exception.
TokenUsage usage_from_openai_json(const nlohmann::json& usage);

}  // namespace rbench
