#include "engine/tokenizer/text.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace rbench::engine::detail {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The bytes allowed right after `lead`: the narrower ranges exclude overlong forms, surrogates and code
// points above U+10FFFF (Unicode table 3-7).
bool valid_second_byte(unsigned char lead, unsigned char second) {
  switch (lead) {
    case 0xE0:
      return second >= 0xA0 && second <= 0xBF;
    case 0xED:
      return second >= 0x80 && second <= 0x9F;
    case 0xF0:
      return second >= 0x90 && second <= 0xBF;
    case 0xF4:
      return second >= 0x80 && second <= 0x8F;
    default:
      return is_continuation(second);
  }
}

// Length of a well-formed character starting with `lead`; 0 if no character starts with it.
size_t expected_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// How many bytes from `position` belong to the character there: the whole character if it is complete
// and well formed, else the longest valid beginning of one (at least 1). `complete` says which.
size_t character_extent(std::string_view bytes, size_t position, bool& complete) {
  const auto lead = static_cast<unsigned char>(bytes[position]);
  const size_t length = expected_length(lead);
  complete = false;
  if (length == 0) return 1;
  size_t taken = 1;
  while (taken < length && position + taken < bytes.size()) {
    const auto next = static_cast<unsigned char>(bytes[position + taken]);
    const bool valid = taken == 1 ? valid_second_byte(lead, next) : is_continuation(next);
    if (!valid) return taken;
    ++taken;
  }
  complete = taken == length;
  return taken;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  size_t position = 0;
  while (position < text.size()) {
    if (static_cast<unsigned char>(text[position]) < 0x80) {
      ++position;
      continue;
    }
    bool complete = false;
    position += character_extent(text, position, complete);
    if (!complete) return false;
  }
  return true;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  size_t position = 0;
  while (position < bytes.size()) {
    bool complete = false;
    const size_t extent = character_extent(bytes, position, complete);
    text.append(complete ? bytes.substr(position, extent) : kReplacementCharacter);
    position += extent;
  }
  return text;
}

size_t unfinished_utf8_tail(std::string_view bytes) {
  const size_t lookback = std::min<size_t>(3, bytes.size());
  for (size_t back = 1; back <= lookback; ++back) {
    const size_t position = bytes.size() - back;
    if (is_continuation(static_cast<unsigned char>(bytes[position]))) continue;
    bool complete = false;
    const size_t extent = character_extent(bytes, position, complete);
    const bool valid_beginning = expected_length(static_cast<unsigned char>(bytes[position])) > 1;
    return (valid_beginning && !complete && extent == back) ? back : 0;
  }
  return 0;
}

size_t utf8_char_length(unsigned char lead) {
  const size_t length = expected_length(lead);
  return length == 0 ? 1 : length;
}

char32_t first_code_point(std::string_view text) {
  utf8proc_int32_t code_point = 0;
  utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &code_point);
  return static_cast<char32_t>(code_point);
}

char32_t last_code_point(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && is_continuation(static_cast<unsigned char>(text[start]))) --start;
  return first_code_point(text.substr(start));
}

bool is_unicode_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_unicode_alphanumeric(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  if (pattern.empty()) return std::string(text);
  std::string result;
  size_t position = 0;
  for (size_t found = text.find(pattern); found != std::string_view::npos; found = text.find(pattern, position)) {
    result.append(text.substr(position, found - position)).append(content);
    position = found + pattern.size();
  }
  return result.append(text.substr(position));
}

namespace {

utf8proc_option_t normal_form_options(NormalForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::nfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalForm::nfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalForm::nfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::nfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  return static_cast<utf8proc_option_t>(options);
}

void append_normalized(std::string_view chunk, utf8proc_option_t options, std::string& out) {
  utf8proc_uint8_t* normalized = nullptr;
  const utf8proc_ssize_t length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(chunk.data()),
                                               static_cast<utf8proc_ssize_t>(chunk.size()), &normalized, options);
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(normalized, &std::free);
  if (length < 0) throw std::runtime_error(std::string("Unicode normalisation failed: ") + utf8proc_errmsg(length));
  out.append(reinterpret_cast<const char*>(normalized), static_cast<size_t>(length));
}

// Every normal form leaves such a character as it is, whatever surrounds it, and nothing moves or composes
// across it: no decomposition, combining class 0, no part in a composition. Hangul composes by rule rather
// than through utf8proc's table, so its letters never count.
bool is_inert(char32_t c) {
  if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0xAC00 && c <= 0xD7A3)) return false;
  const utf8proc_property_t* property = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
  return property->combining_class == 0 && property->decomp_seqindex == UINT16_MAX &&
         property->comb_index == UINT16_MAX;
}

}  // namespace

// Normalises only the stretches that can change. A stretch starts at an ASCII or inert character (ASCII
// may take the combining marks after it, but nothing before it composes with it or moves past it) and
// ends before the next one. Most text (ASCII, CJK ideographs) then never reaches utf8proc.
std::string normalize_unicode(std::string_view valid_utf8, NormalForm form) {
  std::string out;
  out.reserve(valid_utf8.size());
  size_t copied_up_to = 0;
  size_t stretch_start = 0;  // the last ASCII or inert character seen
  bool stretch_may_change = false;
  const auto flush = [&](size_t end) {
    out.append(valid_utf8.substr(copied_up_to, stretch_start - copied_up_to));
    append_normalized(valid_utf8.substr(stretch_start, end - stretch_start), normal_form_options(form), out);
    copied_up_to = end;
    stretch_may_change = false;
  };
  size_t position = 0;
  while (position < valid_utf8.size()) {
    const auto lead = static_cast<unsigned char>(valid_utf8[position]);
    const size_t length = std::min(utf8_char_length(lead), valid_utf8.size() - position);
    if (lead < 0x80 || is_inert(first_code_point(valid_utf8.substr(position, length)))) {
      if (stretch_may_change) flush(position);
      stretch_start = position;
    } else {
      stretch_may_change = true;
    }
    position += length;
  }
  if (stretch_may_change) flush(valid_utf8.size());
  out.append(valid_utf8.substr(copied_up_to));
  return out;
}

}  // namespace rbench::engine::detail
