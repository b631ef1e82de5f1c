#pragma once
// `replay:FILE.jsonl` — grade completions produced elsewhere. One JSON object per line:
//   {"problem_id": "...", "sample_index": 0, "content": "...",
//    "reasoning_content": "...", "finish_reason": "stop", "usage": {...OpenAI usage...}, "latency_s": 1.2}
// Only problem_id and content are required. The whole file is checked when the backend is made.
#include <filesystem>
#include <memory>

#include "harness/backends/backend.h"

namespace rbench {

// Throws UserError naming FILE:LINE and the field for any unreadable line or duplicate sample.
std::unique_ptr<Backend> make_replay_backend(const std::filesystem::path& file);

}  // namespace rbench
