#pragma once
// The `pre_tokenizer` of tokenizer.json: splits normalised text into the pieces that BPE encodes one by
// one. Supported: Split (regex or string pattern, every behavior, invert), ByteLevel (add_prefix_space,
// use_regex), Digits and Sequence of these, with ByteLevel last.
#include <deque>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/tokenizer/config_error.h"
#include "engine/tokenizer/unicode_regex.h"

namespace rbench::engine::detail {

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

class PreTokenizer {
 public:
  // `node` is the `pre_tokenizer` value (null: the whole text is one piece).
  static PreTokenizer from_json(const nlohmann::json& node, const ConfigField& field);

  // True when the pipeline contains ByteLevel: the vocabulary is then written in the byte-level alphabet.
  bool byte_level() const { return byte_level_; }

  // Replaces `pieces` with the non-empty pieces of `text`, in order. Pieces point into `text` or into
  // strings appended to `storage` (a prefix space makes new text).
  void split(std::string_view text, std::vector<std::string_view>& pieces, std::deque<std::string>& storage) const;

 private:
  struct RegexSplit {
    std::shared_ptr<const UnicodeRegex> regex;
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
  };
  struct PrefixSpace {};  // ByteLevel's add_prefix_space: a piece not starting with ' ' gets one
  using Step = std::variant<RegexSplit, PrefixSpace>;

  void add_steps(const nlohmann::json& node, const ConfigField& field);
  void add_byte_level(const nlohmann::json& node, const ConfigField& field);
  static void apply(const RegexSplit& step, std::string_view piece, std::vector<std::string_view>& out);

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace rbench::engine::detail
