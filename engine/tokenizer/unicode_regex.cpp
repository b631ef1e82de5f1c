#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/unicode_regex.h"

#include <pcre2.h>

#include <stdexcept>

#include "engine/tokenizer/text.h"

namespace rbench::engine::detail {

namespace {

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(error_code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

// Match data and a JIT stack per thread: the patterns are shared by every thread that encodes, and a
// long run of letters or spaces can need more than PCRE2's default 32 KiB JIT stack.
class ThreadMatchState {
 public:
  ThreadMatchState()
      : match_data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        jit_stack_(pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr)) {
    if (!match_data_ || !context_ || !jit_stack_) throw std::bad_alloc();
    pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
  }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(match_data_);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;

  pcre2_match_data* match_data() const { return match_data_; }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_data* match_data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* jit_stack_;
};

}  // namespace

void UnicodeRegex::CodeDeleter::operator()(void* code) const { pcre2_code_free(static_cast<pcre2_code*>(code)); }

UnicodeRegex::UnicodeRegex(const std::string& pattern, bool literal) {
  // PCRE2_LITERAL refuses PCRE2_UCP, which only matters for classes anyway.
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error_code,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    throw std::invalid_argument("bad regular expression at offset " + std::to_string(error_offset) + ": " +
                                pcre2_message(error_code));
  }
  code_.reset(code);
  // Without JIT (an unsupported CPU) matching falls back to the interpreter: slower, same answers.
  jit_compiled_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

void UnicodeRegex::find_all(std::string_view valid_utf8, std::vector<MatchRange>& matches) const {
  thread_local ThreadMatchState state;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(valid_utf8.data());
  const auto* code = static_cast<const pcre2_code*>(code_.get());
  size_t search_from = 0;
  bool have_previous = false;
  size_t previous_end = 0;
  while (search_from <= valid_utf8.size()) {
    // pcre2_jit_match skips the checks of pcre2_match, which cost as much as matching a short piece.
    const int result = jit_compiled_ ? pcre2_jit_match(code, subject, valid_utf8.size(), search_from, 0,
                                                       state.match_data(), state.context())
                                     : pcre2_match(code, subject, valid_utf8.size(), search_from, PCRE2_NO_UTF_CHECK,
                                                   state.match_data(), state.context());
    if (result == PCRE2_ERROR_NOMATCH) return;
    if (result < 0) throw std::runtime_error("regular expression match failed: " + pcre2_message(result));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data());
    const MatchRange match{ovector[0], ovector[1]};
    const bool empty = match.begin == match.end;
    if (!(empty && have_previous && match.begin == previous_end)) {
      matches.push_back(match);
      have_previous = true;
      previous_end = match.end;
    }
    if (!empty) {
      search_from = match.end;
    } else if (match.end < valid_utf8.size()) {
      search_from = match.end + utf8_char_length(static_cast<unsigned char>(valid_utf8[match.end]));
    } else {
      return;
    }
  }
}

}  // namespace rbench::engine::detail
