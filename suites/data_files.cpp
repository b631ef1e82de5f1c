#include "suites/data_files.h"

#include <fmt/format.h>

#include <cstdlib>

#include "common/error.h"

namespace rbench {

namespace fs = std::filesystem;

std::optional<fs::path> local_data_dir(const SuiteOptions& options) {
  if (!options.data_dir.empty()) return fs::path(options.data_dir);
  if (const char* env = std::getenv("RBENCH_DATA"); env != nullptr && *env != '\0') return fs::path(env);
  return std::nullopt;
}

fs::path locate_dataset_file(const SuiteOptions& options, const DatasetFile& dataset) {
  if (const auto dir = local_data_dir(options)) {
    const fs::path path = *dir / dataset.folder / dataset.file;
    if (fs::is_regular_file(path)) return path;
    const std::string given = options.data_dir.empty() ? "RBENCH_DATA" : "--data-dir";
    throw UserError(fmt::format("suite {}: {} not found ({} {} must hold {}/{}, laid out like shared/datasets)",
                                dataset.suite, path.string(), given, dir->string(), dataset.folder, dataset.file));
  }
  if (dataset.hub) return HubClient(HubSettings::from_environment()).fetch(*dataset.hub);
  throw UserError(
      fmt::format("suite {} needs {}/{}: pass --data-dir DIR or set RBENCH_DATA=DIR (a directory laid "
                  "out like shared/datasets); it is not on the Hugging Face Hub in a format rbench "
                  "reads. Origin: {}",
                  dataset.suite, dataset.folder, dataset.file, dataset.origin));
}

}  // namespace rbench
