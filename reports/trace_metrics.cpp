#include "reports/trace_metrics.h"

#include <algorithm>
#include <bit>
#include <bitset>
#include <cstring>
#include <vector>

namespace rbench {

namespace {

using Phrase = std::vector<std::string_view>;  // lowercase words

std::vector<Phrase> split_markers() {
  std::vector<Phrase> phrases;
  for (std::string_view marker : kReflectionMarkers) {
    Phrase words;
    for (size_t start = 0; start <= marker.size();) {
      const size_t space = std::min(marker.find(' ', start), marker.size());
      words.push_back(marker.substr(start, space - start));
      start = space + 1;
    }
    phrases.push_back(std::move(words));
  }
  return phrases;
}

const std::vector<Phrase>& marker_phrases() {
  static const std::vector<Phrase> phrases = split_markers();
  return phrases;
}

bool is_ascii_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

// A hash of a word's bytes with ASCII letters lowercased (hyphens and apostrophes are unchanged by | 0x20),
// built a byte at a time as the scanner reads the word (a rotate and an xor), mixed once at the end.
constexpr uint64_t kHashStart = 0;
inline uint64_t add_to_hash(uint64_t hash, char c) {
  return std::rotl(hash, 5) ^ static_cast<unsigned char>(c | 0x20);
}
uint64_t lowercase_hash(std::string_view word) {
  uint64_t hash = kHashStart;
  for (char c : word) hash = add_to_hash(hash, c);
  return hash;
}

// Words whose hash misses this filter cannot end a marker: all but a fraction of a percent of words stop here.
constexpr int kFilterBitsLog2 = 12;
size_t filter_slot(uint64_t hash) { return (hash * 0x9E3779B97F4A7C15ull) >> (64 - kFilterBitsLog2); }
const std::bitset<size_t{1} << kFilterBitsLog2>& marker_end_filter() {
  static const auto filter = [] {
    std::bitset<size_t{1} << kFilterBitsLog2> bits;
    for (const Phrase& phrase : marker_phrases()) bits.set(filter_slot(lowercase_hash(phrase.back())));
    return bits;
  }();
  return filter;
}

bool equals_lowercase(std::string_view text, std::string_view lowercase) {
  if (text.size() != lowercase.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (static_cast<char>(text[i] | 0x20) != lowercase[i]) return false;
  }
  return true;
}

// "hm", "hmm", "hmmmm", ... all count as "hmm".
bool is_hmm(std::string_view word) {
  if (word.size() < 2 || (word[0] | 0x20) != 'h') return false;
  return std::all_of(word.begin() + 1, word.end(), [](char c) { return (c | 0x20) == 'm'; });
}

bool is_cjk(char32_t code_point) {
  return (code_point >= 0x3040 && code_point <= 0x30FF) ||    // hiragana, katakana
         (code_point >= 0x3400 && code_point <= 0x4DBF) ||    // CJK extension A
         (code_point >= 0x4E00 && code_point <= 0x9FFF) ||    // CJK unified ideographs
         (code_point >= 0xAC00 && code_point <= 0xD7AF) ||    // hangul syllables
         (code_point >= 0xF900 && code_point <= 0xFAFF) ||    // CJK compatibility ideographs
         (code_point >= 0x20000 && code_point <= 0x2FA1F);    // extensions B and later
}

bool is_latin_extended_letter(char32_t code_point) {
  return code_point >= 0xC0 && code_point <= 0x24F && code_point != 0xD7 && code_point != 0xF7;
}

// Decodes the UTF-8 sequence at text[i]; returns its length (1 for a malformed byte, which is skipped).
size_t decode(std::string_view text, size_t i, char32_t& code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (length == 1 || i + length > text.size()) {
    code_point = 0xFFFD;
    return 1;
  }
  code_point = lead & (0xFF >> (length + 1));
  for (size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xC0) != 0x80) {
      code_point = 0xFFFD;
      return 1;
    }
    code_point = (code_point << 6) | (byte(k) & 0x3F);
  }
  return length;
}

// Length of the Latin letter (ASCII or accented) at text[i], or 0 when there is none.
size_t latin_letter_at(std::string_view text, size_t i) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return is_ascii_letter(c) ? 1 : 0;
  char32_t code_point = 0;
  const size_t length = decode(text, i, code_point);
  return is_latin_extended_letter(code_point) ? length : 0;
}

// One pass over a trace, a word at a time: counts words by script and matches the markers on each word.
class TraceScanner {
 public:
  explicit TraceScanner(TraceMeasures& measures) : measures_(measures) {}

  void scan(std::string_view text) {
    bool after_backslash = false;
    for (size_t i = 0; i < text.size();) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (c < 0x80 && !is_ascii_letter(c)) {  // the common case first: spaces, digits, punctuation
        after_backslash = c == '\\';
        ++i;
        continue;
      }
      if (latin_letter_at(text, i) > 0) {
        i = scan_word(text, i, after_backslash);
        after_backslash = false;
        continue;
      }
      after_backslash = false;
      char32_t code_point = 0;
      i += decode(text, i, code_point);
      if (is_cjk(code_point)) {
        ++measures_.cjk_characters;
        ++measures_.words;
      }
    }
  }

 private:
  struct SeenWord {
    std::string_view text;
    bool ascii = false;
    uint64_t hash = 0;  // lowercase_hash(text)
  };

  // Reads the word starting at `start` (letters, with hyphens and apostrophes between letters: "double-check",
  // "let's"); returns where it ends. LaTeX command names and single letters (variables) are not words.
  size_t scan_word(std::string_view text, size_t start, bool command) {
    size_t i = start, letters = 0;
    bool ascii = true;
    uint64_t hash = kHashStart;
    while (i < text.size()) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      const bool joins = (c == '-' || c == '\'') && i + 1 < text.size() &&
                         is_ascii_letter(static_cast<unsigned char>(text[i + 1]));
      if (is_ascii_letter(c) || joins) {
        letters += !joins;
        hash = add_to_hash(hash, static_cast<char>(c));
        ++i;
      } else if (const size_t length = c >= 0x80 ? latin_letter_at(text, i) : 0; length > 0) {
        ++letters;
        ascii = false;
        i += length;
      } else {
        break;
      }
    }
    if (letters >= 2 && !command) count_word({text.substr(start, i - start), ascii, hash});
    return i;
  }

  void count_word(const SeenWord& word) {
    ++measures_.latin_words;
    ++measures_.words;
    if (word.ascii && is_marker_end(word)) ++measures_.reflection_markers;
    history_[2] = history_[1];
    history_[1] = history_[0];
    history_[0] = word;
  }

  // Whether `word` completes a marker with the words before it (history_, nearest first).
  bool is_marker_end(const SeenWord& word) const {
    if (is_hmm(word.text)) return true;
    if (!marker_end_filter().test(filter_slot(word.hash))) return false;
    for (const Phrase& phrase : marker_phrases()) {
      if (!equals_lowercase(word.text, phrase.back())) continue;
      bool matched = true;
      for (size_t back = 1; back < phrase.size() && matched; ++back) {
        const SeenWord& earlier = history_[back - 1];
        matched = earlier.ascii && equals_lowercase(earlier.text, phrase[phrase.size() - 1 - back]);
      }
      if (matched) return true;
    }
    return false;
  }

  TraceMeasures& measures_;
  SeenWord history_[3];  // markers are at most three words long
};

// Bytes less UTF-8 continuation bytes (10xxxxxx), eight bytes at a time: a continuation byte has bit 7 set
// and bit 6 clear.
int64_t count_code_points(std::string_view text) {
  constexpr uint64_t high_bits = 0x8080808080808080ull;
  int64_t continuation = 0;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, text.data() + i, 8);
    // one bit per continuation byte at bit 0 of its byte; the multiply sums the bytes into the top one
    continuation += static_cast<int64_t>((((chunk & ~(chunk << 1) & high_bits) >> 7) * 0x0101010101010101ull) >> 56);
  }
  for (; i < text.size(); ++i) continuation += (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  return static_cast<int64_t>(text.size()) - continuation;
}

bool has_text(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") != std::string_view::npos;
}

double share(int64_t part, int64_t whole) { return whole > 0 ? static_cast<double>(part) / whole : 0.0; }

bool mixes_languages(int64_t latin_words, int64_t cjk_characters) {
  const int64_t total = latin_words + cjk_characters;
  return total > 0 && share(latin_words, total) >= kLanguageMixingShare &&
         share(cjk_characters, total) >= kLanguageMixingShare;
}

}  // namespace

bool TraceMeasures::language_mixed() const { return mixes_languages(latin_words, cjk_characters); }

TraceMeasures measure_trace(std::string_view reasoning, std::string_view answer) {
  TraceMeasures measures;
  measures.think_chars = count_code_points(reasoning);
  TraceScanner(measures).scan(reasoning);
  measures.think_closed = has_text(reasoning) && has_text(answer);
  measures.boxed_answer = answer.find("\\boxed") != std::string_view::npos;
  measures.stray_think_tags =
      answer.find("<think>") != std::string_view::npos || answer.find("</think>") != std::string_view::npos;
  return measures;
}

bool asks_for_boxed_answer(std::string_view prompt_template) {
  return prompt_template.find("\\boxed") != std::string_view::npos;
}

void TraceAccumulator::add(const SampleView& sample) {
  const TraceMeasures measures = measure_trace(sample.reasoning, sample.answer);
  ++samples_;
  think_chars_ += measures.think_chars;
  words_ += measures.words;
  latin_words_ += measures.latin_words;
  cjk_characters_ += measures.cjk_characters;
  reflection_markers_ += measures.reflection_markers;
  closed_ += measures.think_closed;
  boxed_ += measures.boxed_answer;
  mixed_ += measures.language_mixed();
  compliant_ += measures.think_closed && !measures.stray_think_tags &&
                (!boxed_answer_required_ || measures.boxed_answer);
}

TraceSummary TraceAccumulator::summary() const {
  TraceSummary summary;
  summary.samples = samples_;
  if (samples_ == 0) return summary;
  summary.mean_think_chars = static_cast<double>(think_chars_) / samples_;
  summary.think_closed_rate = share(closed_, samples_);
  if (boxed_answer_required_) summary.boxed_rate = share(boxed_, samples_);
  summary.format_compliance_rate = share(compliant_, samples_);
  summary.cjk_share = share(cjk_characters_, latin_words_ + cjk_characters_);
  summary.language_mixed_rate = share(mixed_, samples_);
  summary.reflections_per_1k_words = words_ > 0 ? 1000.0 * reflection_markers_ / words_ : 0.0;
  return summary;
}

}  // namespace rbench
