#include "scorers/math_answer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace rbench {

namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The content of the brace group opening at `open` (text[open] == '{'), or nullopt if unbalanced.
std::optional<std::string_view> brace_group(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;  // an escaped brace does not count
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return text.substr(open + 1, i - open - 1);
  }
  return std::nullopt;
}

size_t last_box(std::string_view text, size_t& command_length) {
  size_t best = std::string_view::npos;
  for (std::string_view command : {std::string_view("\\boxed"), std::string_view("\\fbox")}) {
    const size_t at = text.rfind(command);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at;
      command_length = command.size();
    }
  }
  return best;
}

std::optional<std::string> extract_box(std::string_view response) {
  size_t command_length = 0;
  const size_t at = last_box(response, command_length);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + command_length;
  while (i < response.size() && is_space(response[i])) ++i;
  if (i < response.size() && response[i] == '{') {
    const auto group = brace_group(response, i);
    if (!group) return std::string();  // unterminated: no answer
    return std::string(trim(*group));
  }
  // "\boxed 5": the token after the command
  size_t end = i;
  while (end < response.size() && !is_space(response[end]) && response[end] != '$') ++end;
  return std::string(response.substr(i, end - i));
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> extract_phrase(std::string_view response) {
  const std::string lowered = lower(response);
  for (std::string_view phrase : {std::string_view("final answer is"), std::string_view("answer is"),
                                  std::string_view("final answer:"), std::string_view("answer:")}) {
    const size_t at = lowered.rfind(phrase);
    if (at == std::string::npos) continue;
    std::string_view rest = response.substr(at + phrase.size());
    rest = rest.substr(0, rest.find('\n'));
    if (const size_t hope = lower(rest).find("i hope"); hope != std::string::npos) rest = rest.substr(0, hope);
    rest = trim(rest);
    while (!rest.empty() && (rest.back() == '.' || rest.back() == '$')) rest.remove_suffix(1);
    while (!rest.empty() && (rest.front() == '$' || rest.front() == ':')) rest.remove_prefix(1);
    if (!trim(rest).empty()) return std::string(trim(rest));
  }
  return std::nullopt;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// \text{X}, \textbf{X}, \mathrm{X}, \mbox{X} -> X
void unwrap_text_commands(std::string& text) {
  for (std::string_view command : {"\\text", "\\textbf", "\\mathrm", "\\mbox", "\\mathbf"}) {
    for (size_t at = text.find(command); at != std::string::npos; at = text.find(command, at)) {
      const size_t open = at + command.size();
      if (open >= text.size() || text[open] != '{') {
        at = open;
        continue;
      }
      const auto group = brace_group(text, open);
      if (!group) break;
      const std::string content(*group);
      text.replace(at, open - at + group->size() + 2, content);
    }
  }
}

// "1,234,567" -> "1234567" when the whole answer is such a number; "(1,234)" stays a tuple.
void remove_thousands_separators(std::string& text) {
  static const std::regex grouped(R"(-?\d{1,3}(,\d{3})+(\.\d+)?)");
  if (std::regex_match(text, grouped)) std::erase(text, ',');
}

std::string strip_leading_zeros(const std::string& text) {
  size_t start = text.front() == '-' ? 1 : 0;
  for (size_t i = start; i < text.size(); ++i) {
    if (!is_digit(text[i])) return text;
  }
  size_t first = start;
  while (first + 1 < text.size() && text[first] == '0') ++first;
  return text.substr(0, start) + text.substr(first);
}

std::optional<long double> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  const long double value = std::strtold(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

// Integers, decimals, a/b and \frac{a}{b}, with an optional leading minus.
std::optional<long double> parse_number(std::string_view text) {
  bool negative = false;
  if (text.starts_with("-")) {
    negative = true;
    text.remove_prefix(1);
  }
  std::optional<long double> value;
  if (text.starts_with("\\frac{")) {
    const auto numerator = brace_group(text, 5);
    if (!numerator) return std::nullopt;
    const size_t denominator_open = 5 + numerator->size() + 2;
    if (denominator_open >= text.size() || text[denominator_open] != '{') return std::nullopt;
    const auto denominator = brace_group(text, denominator_open);
    if (!denominator || denominator_open + denominator->size() + 2 != text.size()) return std::nullopt;
    const auto n = parse_decimal(*numerator);
    const auto d = parse_decimal(*denominator);
    if (n && d && *d != 0) value = *n / *d;
  } else if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    const auto n = parse_decimal(text.substr(0, slash));
    const auto d = parse_decimal(text.substr(slash + 1));
    if (n && d && *d != 0) value = *n / *d;
  } else {
    value = parse_decimal(text);
  }
  if (!value) return std::nullopt;
  return negative ? -*value : *value;
}

}  // namespace

std::optional<std::string> extract_math_answer(std::string_view response) {
  if (auto boxed = extract_box(response)) {
    if (boxed->empty()) return std::nullopt;
    return boxed;
  }
  return extract_phrase(response);
}

std::string normalize_math_answer(std::string_view answer) {
  std::string text(trim(answer));
  for (std::string_view dressing : {"\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\ ", "\\$", "$", "\\%", "%",
                                    "^{\\circ}", "^\\circ", "\\displaystyle"}) {
    replace_all(text, dressing, "");
  }
  replace_all(text, "\\dfrac", "\\frac");
  replace_all(text, "\\tfrac", "\\frac");
  unwrap_text_commands(text);
  std::erase_if(text, is_space);
  remove_thousands_separators(text);
  while (!text.empty() && text.back() == '.') text.pop_back();
  // "x=3" -> "3": a short variable name on the left of a single '='
  if (const size_t equals = text.find('='); equals != std::string::npos && equals <= 2 &&
                                            text.find('=', equals + 1) == std::string::npos) {
    text = text.substr(equals + 1);
  }
  if (text.empty()) return text;
  return strip_leading_zeros(text);
}

bool math_answers_equal(std::string_view gold, std::string_view predicted) {
  const std::string a = normalize_math_answer(gold);
  const std::string b = normalize_math_answer(predicted);
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  const auto x = parse_number(a);
  const auto y = parse_number(b);
  if (!x || !y) return false;
  const long double scale = std::max({1.0L, std::fabs(*x), std::fabs(*y)});
  return std::fabs(*x - *y) <= 1e-12L * scale;
}

}  // namespace rbench
