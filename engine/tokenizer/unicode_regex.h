#pragma once
// A PCRE2 pattern compiled for UTF-8 with Unicode classes (\p{L}, \s, ...) and JIT, for the split
// patterns of tokenizer.json. Oniguruma (what Hugging Face uses) and PCRE2 agree on these patterns.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rbench::engine::detail {

struct MatchRange {
  size_t begin = 0;
  size_t end = 0;
};

class UnicodeRegex {
 public:
  // `literal`: match `pattern` as plain text. Throws std::invalid_argument with PCRE2's message.
  explicit UnicodeRegex(const std::string& pattern, bool literal = false);

  // Appends every non-overlapping match in `valid_utf8`, left to right, as the `regex` crate iterates
  // them: an empty match right where the previous match ended is skipped.
  void find_all(std::string_view valid_utf8, std::vector<MatchRange>& matches) const;

 private:
  struct CodeDeleter {
    void operator()(void* code) const;
  };
  std::unique_ptr<void, CodeDeleter> code_;  // pcre2_code_8
  bool jit_compiled_ = false;
};

}  // namespace rbench::engine::detail
