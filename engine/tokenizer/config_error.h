#pragma once
// Errors about a tokenizer file: they name the file and the JSON field, e.g.
//   models/x/tokenizer.json: field 'pre_tokenizer.pretokenizers[1].type': unsupported pre-tokenizer 'Metaspace'
#include <string>

#include "common/error.h"

namespace rbench::engine::detail {

// Where in which file a part of the configuration was read from.
struct ConfigField {
  std::string file;
  std::string path;  // "pre_tokenizer.pretokenizers[1]"

  ConfigField operator/(const std::string& key) const { return {file, path + "." + key}; }
  ConfigField operator[](size_t index) const { return {file, path + "[" + std::to_string(index) + "]"}; }
};

[[noreturn]] inline void fail(const ConfigField& field, const std::string& problem) {
  throw UserError(field.file + ": field '" + field.path + "': " + problem);
}

}  // namespace rbench::engine::detail
