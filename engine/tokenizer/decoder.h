#pragma once
// The `decoder` of tokenizer.json, reduced to what it does to each token plus a strip at the start of
// the text. Supported: ByteLevel (a token outside the byte-level alphabet stands for its own UTF-8, as
// in Hugging Face), and Sequence of Replace (string pattern), ByteFallback, Strip and Fuse, with only
// Strip (of leading characters) after Fuse: the Llama 2 / Mixtral decoder.
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/tokenizer/config_error.h"

namespace rbench::engine::detail {

class Decoder {
 public:
  static Decoder from_json(const nlohmann::json& node, const ConfigField& field);

  // The bytes a token contributes to the decoded text, from its spelling in tokenizer.json.
  std::string token_bytes(std::string_view spelling) const;

  // Decoding removes up to `leading_strip_count()` copies of `leading_strip()` from the start of the text.
  const std::string& leading_strip() const { return leading_strip_; }
  size_t leading_strip_count() const { return leading_strip_count_; }

 private:
  struct ByteLevel {};
  struct ByteFallback {};
  struct Replace {
    std::string pattern;
    std::string content;
  };
  struct StripEach {
    std::string content;
    size_t start = 0;
    size_t stop = 0;
  };
  using Step = std::variant<ByteLevel, ByteFallback, Replace, StripEach>;

  void add_steps(const nlohmann::json& node, const ConfigField& field);

  std::vector<Step> steps_;
  bool fused_ = false;
  std::string leading_strip_;
  size_t leading_strip_count_ = 0;
};

}  // namespace rbench::engine::detail
