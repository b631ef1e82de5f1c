#include "scorers/output_comparison.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <vector>

namespace rbench {

namespace {

// ----------------------------------------------------------------------------------------------------
// Python's whitespace (str.isspace) in UTF-8

// The multi-byte whitespace code points: U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000.
constexpr std::array<std::string_view, 19> kWideSpaces = {
    "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83",
    "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a",
    "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};

// \t \n \v \f \r, the information separators U+001C-U+001F, and space.
bool is_ascii_space(char c) { return (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= ' '); }

// Bytes of the whitespace code point starting at `at` (0 when there is none).
size_t space_at(std::string_view text, size_t at) {
  if (is_ascii_space(text[at])) return 1;
  if (static_cast<unsigned char>(text[at]) < 0xc2) return 0;  // ASCII, or not the lead byte of a wide space
  for (const std::string_view space : kWideSpaces) {
    if (text.substr(at).starts_with(space)) return space.size();
  }
  return 0;
}

// Bytes of the whitespace code point ending just before `end` (0 when there is none).
size_t space_before(std::string_view text, size_t end) {
  if (is_ascii_space(text[end - 1])) return 1;
  if (static_cast<unsigned char>(text[end - 1]) < 0x80) return 0;  // ASCII: no wide space ends here
  for (const std::string_view space : kWideSpaces) {
    if (text.substr(0, end).ends_with(space)) return space.size();
  }
  return 0;
}

std::string_view python_strip(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end) {
    const size_t width = space_at(text, begin);
    if (width == 0) break;
    begin += width;
  }
  while (end > begin) {
    const size_t width = space_before(text, end);
    if (width == 0) break;
    end -= width;
  }
  return text.substr(begin, end - begin);
}

// str.split() with no separator: the runs of non-whitespace.
std::vector<std::string_view> python_split(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t at = 0;
  while (at < text.size()) {
    if (const size_t width = space_at(text, at)) {
      at += width;
      continue;
    }
    const size_t start = at;
    while (at < text.size() && space_at(text, at) == 0) ++at;
    tokens.push_back(text.substr(start, at - start));
  }
  return tokens;
}

// get_stripped_lines: strip the whole text, split on "\n", strip each line.
std::vector<std::string_view> stripped_lines(std::string_view text) {
  const std::string_view stripped = python_strip(text);
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (true) {
    const size_t end = stripped.find('\n', start);
    lines.push_back(python_strip(stripped.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return lines;
    start = end + 1;
  }
}

// ----------------------------------------------------------------------------------------------------
// decimal.Decimal strings

struct Decimal {
  enum class Kind { finite, infinity, nan };
  Kind kind = Kind::finite;
  bool negative = false;
  std::string digits;    // coefficient without leading or trailing zeros; empty for zero
  int64_t exponent = 0;  // value = digits * 10^exponent
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return lower;
}

bool all_digits(std::string_view text) {
  for (const char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// The special values: Inf, Infinity, NaN with optional payload digits. sNaN is no Decimal we can compare.
std::optional<Decimal> parse_special(std::string_view body, bool negative) {
  const std::string lower = lowercase(body);
  if (lower == "inf" || lower == "infinity") return Decimal{Decimal::Kind::infinity, negative, "", 0};
  if (lower.starts_with("nan") && all_digits(std::string_view(lower).substr(3))) {
    return Decimal{Decimal::Kind::nan, negative, "", 0};
  }
  return std::nullopt;
}

// The exponent part's digits, refused past 17 digits so that adding the fraction length cannot overflow.
std::optional<int64_t> parse_exponent(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || !all_digits(text)) return std::nullopt;
  while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
  if (text.size() > 17) return std::nullopt;
  const int64_t value = std::stoll(std::string(text));
  return negative ? -value : value;
}

std::optional<Decimal> parse_decimal(std::string_view token) {
  std::string text;
  for (const char c : token) {
    if (c != '_') text.push_back(c);
  }
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (body.empty()) return std::nullopt;
  if (!is_digit(body.front()) && body.front() != '.') return parse_special(body, negative);

  Decimal value;
  value.negative = negative;
  std::string coefficient;
  size_t at = 0;
  int64_t fraction_digits = 0;
  bool seen_point = false;
  for (; at < body.size(); ++at) {
    const char c = body[at];
    if (is_digit(c)) {
      coefficient.push_back(c);
      if (seen_point) ++fraction_digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (coefficient.empty()) return std::nullopt;
  int64_t exponent = 0;
  if (at < body.size()) {
    if (body[at] != 'e' && body[at] != 'E') return std::nullopt;
    const auto parsed = parse_exponent(body.substr(at + 1));
    if (!parsed) return std::nullopt;
    exponent = *parsed;
  }
  // Normalise: no leading zeros, trailing zeros moved into the exponent, zero has no sign.
  const size_t first = coefficient.find_first_not_of('0');
  if (first == std::string::npos) return Decimal{Decimal::Kind::finite, false, "", 0};
  coefficient.erase(0, first);
  const size_t last = coefficient.find_last_not_of('0');
  exponent += static_cast<int64_t>(coefficient.size() - 1 - last) - fraction_digits;
  coefficient.erase(last + 1);
  value.digits = std::move(coefficient);
  value.exponent = exponent;
  return value;
}

bool decimals_equal(const Decimal& a, const Decimal& b) {
  if (a.kind == Decimal::Kind::nan || b.kind == Decimal::Kind::nan) return false;
  return a.kind == b.kind && a.negative == b.negative && a.digits == b.digits && a.exponent == b.exponent;
}

// convert_line_to_decimals: every token a Decimal, or nullopt.
std::optional<std::vector<Decimal>> line_decimals(std::string_view line) {
  std::vector<Decimal> values;
  for (const std::string_view token : python_split(line)) {
    auto value = parse_decimal(token);
    if (!value) return std::nullopt;
    values.push_back(std::move(*value));
  }
  return values;
}

bool decimal_lines_equal(std::string_view actual, std::string_view expected) {
  const auto a = line_decimals(actual);
  const auto b = line_decimals(expected);
  if (!a || !b || a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i) {
    if (!decimals_equal((*a)[i], (*b)[i])) return false;
  }
  return true;
}

// ----------------------------------------------------------------------------------------------------
// UTF-8

constexpr std::string_view kReplacement = "\xef\xbf\xbd";

// Bytes of the valid UTF-8 sequence at `at` (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF), or 0.
size_t utf8_sequence_at(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(at);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint8_t low = 0x80, high = 0xbf;  // allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

std::optional<std::string> stdout_mismatch(std::string_view actual, std::string_view expected) {
  const std::vector<std::string_view> actual_lines = stripped_lines(actual);
  const std::vector<std::string_view> expected_lines = stripped_lines(expected);
  if (actual_lines.size() != expected_lines.size()) {
    return fmt::format("Wrong answer: mismatched output length ({} lines, expected {})", actual_lines.size(),
                       expected_lines.size());
  }
  for (size_t i = 0; i < actual_lines.size(); ++i) {
    if (actual_lines[i] == expected_lines[i] || decimal_lines_equal(actual_lines[i], expected_lines[i])) continue;
    return fmt::format("Wrong answer at output_line_idx={}: {} != {}", i, display_text(actual_lines[i]),
                       display_text(expected_lines[i]));
  }
  return std::nullopt;
}

bool decimal_strings_equal(std::string_view a, std::string_view b) {
  const auto x = parse_decimal(a);
  const auto y = parse_decimal(b);
  return x && y && decimals_equal(*x, *y);
}

std::string display_text(std::string_view text, size_t max_chars) {
  std::vector<std::string_view> characters;
  for (size_t at = 0; at < text.size();) {
    const size_t length = utf8_sequence_at(text, at);
    characters.push_back(length == 0 ? kReplacement : text.substr(at, length));
    at += length == 0 ? 1 : length;
  }
  std::string shown;
  if (characters.size() <= max_chars) {
    for (const auto character : characters) shown.append(character);
    return shown;
  }
  const size_t half = max_chars / 2;
  for (size_t i = 0; i < half; ++i) shown.append(characters[i]);
  shown.append("...(truncated) ...");
  for (size_t i = characters.size() - half; i < characters.size(); ++i) shown.append(characters[i]);
  return shown;
}

}  // namespace rbench
