#pragma once
// The `normalizer` of tokenizer.json. Supported: NFC, NFD, NFKC, NFKD, Prepend, Replace (string pattern)
// and Sequence of these.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/tokenizer/config_error.h"
#include "engine/tokenizer/text.h"

namespace rbench::engine::detail {

class Normalizer {
 public:
  // `node` is the `normalizer` value (null: no normalisation).
  static Normalizer from_json(const nlohmann::json& node, const ConfigField& field);

  bool changes_nothing() const { return steps_.empty(); }
  std::string apply(std::string_view valid_utf8) const;

 private:
  struct UnicodeForm {
    NormalForm form;
  };
  struct Prepend {
    std::string text;
  };
  struct Replace {
    std::string pattern;
    std::string content;
  };
  using Step = std::variant<UnicodeForm, Prepend, Replace>;

  void add_steps(const nlohmann::json& node, const ConfigField& field);

  std::vector<Step> steps_;
};

}  // namespace rbench::engine::detail
