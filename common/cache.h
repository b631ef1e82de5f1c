#pragma once
// Where rbench keeps what it downloads or derives: RBENCH_CACHE, else ~/.cache/rbench.
#include <filesystem>
#include <string_view>

namespace rbench {

// The root of rbench's caches. Throws UserError when neither RBENCH_CACHE nor HOME is set.
std::filesystem::path rbench_cache_dir();

// Test material too large for a problem's metadata (LiveCodeBench's private tests, often megabytes),
// kept as a JSON file named by the SHA-256 of what it was decoded from. A suite loader writes it; a
// scorer reads it back from the hash the metadata holds. <cache>/test_material/<sha256>.json.
std::filesystem::path test_material_path(std::string_view sha256);

}  // namespace rbench
