#pragma once
// Added tokens ("<|im_start|>", "<think>", ...) are found in the text before pre-tokenisation, as
// Hugging Face's AddedVocabulary finds them: leftmost-longest, honouring single_word, lstrip and rstrip.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rbench::engine::detail {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;      // removed by skip_special_tokens
  bool single_word = false;  // only matches between word boundaries
  bool lstrip = false;       // takes the whitespace on its left
  bool rstrip = false;       // takes the whitespace on its right
  bool normalized = false;   // matched in the normalised text rather than the raw text
};

struct TextSegment {
  std::string_view text;
  int32_t token_id = -1;  // -1: plain text for the model
};

// Finds one set of added tokens (the raw ones or the normalised ones) with a byte trie.
class AddedTokenMatcher {
 public:
  // `pattern` is the text matched for `token`: its content, normalised for normalised tokens.
  void add(std::string_view pattern, const AddedToken& token);
  bool empty() const { return tokens_.empty(); }

  // Replaces `segments` with the plain runs and added tokens of `text`, in order, covering all of it.
  void split(std::string_view text, std::vector<TextSegment>& segments) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token = -1;  // index in tokens_ of the token ending here
  };
  struct Match {
    int32_t token = -1;
    size_t end = 0;
  };
  Match longest_match_at(std::string_view text, size_t position) const;

  std::vector<Node> nodes_{Node{}};
  std::vector<AddedToken> tokens_;
  std::array<bool, 256> can_start_{};  // first bytes of the patterns: most bytes of a text skip the trie
};

}  // namespace rbench::engine::detail
