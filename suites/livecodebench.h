#pragma once
// LiveCodeBench, the "2408-2502" window of release_v5 that QwQ and DeepSeek-R1 style reports use.
//
// Problems and prompts: <data>/livecodebench/livecodebench_v5_qwq.jsonl (QwQ's file: the official prompt
// in its single-user-message form, no tests). Tests: the Hugging Face dataset
// livecodebench/code_generation_lite (files test3/4/5.jsonl hold this window), read from
// <data>/livecodebench/code_generation_lite/ when that folder exists, else from the Hub cache (downloaded
// unless RBENCH_OFFLINE=1). Without a local data directory, the problems come from those Hub files too,
// filtered to contest dates in the window. When the tests cannot be had, the problems still load
// (a warning says so) and carry no test material.
//
// Test material in Problem::metadata (test_format "livecodebench"):
//   public_test_cases   [{input, output, testtype: "stdin"|"functional"}]
//   private_test_cases  {"sha256": S}: the decoded list, often megabytes, is kept out of the store in
//                       test_material_path(S) (common/cache.h)
//   func_name           the Solution method that functional tests call
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace rbench {

// A test-case field as code_generation_lite publishes it: JSON text of [{input, output, testtype}],
// or base64(zlib(pickle(that JSON text))). Throws UserError when it is neither.
nlohmann::json decode_livecodebench_tests(std::string_view field);

// The official LiveCodeBench prompt as one user message (QwQ, lighteval): the system text, the
// question, and the format instruction for starter code (LeetCode) or stdin/stdout programs.
std::string livecodebench_prompt(std::string_view question_content, std::string_view starter_code);

}  // namespace rbench
