#include "common/cache.h"

#include <cstdlib>
#include <string>

#include "common/error.h"

namespace rbench {

namespace fs = std::filesystem;

fs::path rbench_cache_dir() {
  if (const char* cache = std::getenv("RBENCH_CACHE"); cache != nullptr && *cache != '\0') return cache;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return fs::path(home) / ".cache" / "rbench";
  throw UserError("neither RBENCH_CACHE nor HOME is set: rbench has no place for its cache");
}

fs::path test_material_path(std::string_view sha256) {
  return rbench_cache_dir() / "test_material" / (std::string(sha256) + ".json");
}

}  // namespace rbench
