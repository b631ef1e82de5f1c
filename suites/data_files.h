#pragma once
// Where a suite's data file comes from, first match wins:
//   1. --data-dir DIR (SuiteOptions::data_dir): DIR/<folder>/<file>
//   2. RBENCH_DATA=DIR: DIR/<folder>/<file>
//   3. the Hugging Face Hub (cached; see hub.h), for datasets published there in the same format.
// DIR has the layout of ../shared/datasets (math500/test.jsonl, gpqa/dataset.zip, ...).
#include <filesystem>
#include <optional>
#include <string>

#include "suites/hub.h"
#include "suites/suite.h"

namespace rbench {

struct DatasetFile {
  std::string suite;           // for messages
  std::string folder;          // e.g. "math500"
  std::string file;            // e.g. "test.jsonl"
  std::optional<HubFile> hub;  // the same records on the Hub, where they are published in this format
  std::string origin;          // where to get the file by hand, for the message when none of the above has it
};

// The data directory chosen by the options or RBENCH_DATA; nullopt when neither names one.
std::optional<std::filesystem::path> local_data_dir(const SuiteOptions& options);

// The local path of `dataset`. Throws UserError naming every place it looked.
std::filesystem::path locate_dataset_file(const SuiteOptions& options, const DatasetFile& dataset);

}  // namespace rbench
