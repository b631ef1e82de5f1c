#include "scorers/math_answer.h"

#include <algorithm>
#include <array>
#include <vector>

#include "scorers/latex_expression.h"

namespace rbench {

namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alphanumeric(char c) { return is_letter(c) || is_digit(c); }

}  // namespace

namespace answer_text {

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string lowercase_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::size_t find_last(std::string_view text, std::string_view needle, std::size_t end) {
  std::size_t last = npos;
  for (std::size_t at = text.find(needle); at != npos && at < end; at = text.find(needle, at + 1)) last = at;
  return last;
}

}  // namespace answer_text

namespace {

using answer_text::find_last;
using answer_text::lowercase_ascii;
using answer_text::trim;

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// Whether a LaTeX command `name` (without backslash) starts at `at`, not as the prefix of a longer name.
bool command_at(std::string_view text, std::size_t at, std::string_view name) {
  if (at >= text.size() || text[at] != '\\' || text.substr(at + 1, name.size()) != name) return false;
  const std::size_t after = at + 1 + name.size();
  return after >= text.size() || !is_letter(text[after]);
}

void replace_command(std::string& text, std::string_view name, std::string_view replacement) {
  std::size_t at = text.find('\\');
  while (at != npos) {
    if (command_at(text, at, name)) {
      text.replace(at, name.size() + 1, replacement);
      at = text.find('\\', at + replacement.size());
    } else {
      at = text.find('\\', at + 1);
    }
  }
}

// The index of the '}' closing the '{' at `open`; escaped braces (\{ \}) do not count.
std::optional<std::size_t> matching_brace(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return i;
  }
  return std::nullopt;
}

// Whether `word` occurs at `at` as a whole ASCII word.
bool word_at(std::string_view text, std::size_t at, std::string_view word) {
  if (text.substr(at, word.size()) != word) return false;
  const bool starts = at == 0 || !is_letter(text[at - 1]);
  const std::size_t after = at + word.size();
  return starts && (after >= text.size() || !is_letter(text[after]));
}

// ---------------------------------------------------------------- extraction

struct Box {
  std::size_t start = 0;  // the backslash of \boxed
  std::size_t end = 0;    // one past the box
  std::string_view content;
};

// The box whose command starts at `start`; nullopt when its braces never close.
std::optional<Box> box_at(std::string_view text, std::size_t start) {
  const std::size_t command_length = command_at(text, start, "boxed") ? 6 : 5;
  std::size_t i = start + command_length;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i < text.size() && text[i] == '{') {
    const auto close = matching_brace(text, i);
    if (!close) return std::nullopt;
    return Box{start, *close + 1, text.substr(i + 1, *close - i - 1)};
  }
  // "\boxed 5": the token after the command
  std::size_t end = i;
  while (end < text.size() && !is_space(text[end]) && text[end] != '$') ++end;
  if (end == i) return std::nullopt;
  return Box{start, end, text.substr(i, end - i)};
}

// The start of the last \boxed or \fbox command that begins before `end`.
std::optional<std::size_t> last_box_command(std::string_view text, std::size_t end) {
  std::optional<std::size_t> last;
  for (std::size_t at = text.find('\\'); at != npos && at < end; at = text.find('\\', at + 1)) {
    if (command_at(text, at, "boxed") || command_at(text, at, "fbox")) last = at;
  }
  return last;
}

// Text between two boxes that only separates them: spaces, punctuation, math delimiters, \quad, "and". Not
// "or": "\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}" offers one answer in two forms.
bool only_separators(std::string_view gap) {
  std::string rest = lowercase_ascii(gap);
  for (std::string_view filler :
       {"\\text", "\\mathrm", "\\quad", "\\qquad", "\\,", "\\;", "\\(", "\\)", "\\[", "\\]", "\\\\"}) {
    replace_all(rest, filler, " ");
  }
  std::erase_if(rest, [](char c) { return std::string_view(" \t\r\n$,;&{}").find(c) != npos; });
  replace_all(rest, "and", "");
  return rest.empty();
}

// The last box, joined with the boxes just before it when only separators stand between them.
std::optional<std::string> boxed_answer(std::string_view text) {
  const auto last_start = last_box_command(text, text.size());
  if (!last_start) return std::nullopt;
  const auto last = box_at(text, *last_start);
  if (!last) return std::nullopt;  // unterminated: never credit an earlier box
  // More boxes in a row than any list answer has are not joined: each step rescans the text.
  constexpr std::size_t max_joined_boxes = 16;
  std::vector<std::string_view> contents = {trim(last->content)};
  std::size_t start = last->start;
  while (contents.size() < max_joined_boxes) {
    const auto previous_start = last_box_command(text, start);
    if (!previous_start) break;
    const auto previous = box_at(text, *previous_start);
    if (!previous || previous->end > start || !only_separators(text.substr(previous->end, start - previous->end)))
      break;
    contents.push_back(trim(previous->content));
    start = previous->start;
  }
  std::string joined;
  for (auto content = contents.rbegin(); content != contents.rend(); ++content) {
    if (content->empty()) continue;
    if (!joined.empty()) joined += ", ";
    joined += *content;
  }
  if (joined.empty()) return std::nullopt;
  return joined;
}

struct Span {
  std::size_t begin = 0;  // the span, delimiters included
  std::size_t end = 0;
  std::string_view content;
};

// $...$ (one line), $$...$$, \(...\) and \[...\], in order; an escaped \$ is a dollar sign.
std::vector<Span> math_spans(std::string_view text) {
  std::vector<Span> spans;
  const auto add = [&](std::size_t begin, std::size_t open_length, std::string_view close, bool one_line) {
    const std::size_t close_at = text.find(close, begin + open_length);
    if (close_at == npos) return begin + open_length;
    const std::string_view content = text.substr(begin + open_length, close_at - begin - open_length);
    if (one_line && content.find('\n') != npos) return begin + open_length;
    spans.push_back({begin, close_at + close.size(), content});
    return close_at + close.size();
  };
  for (std::size_t i = 0; i < text.size();) {
    if (text.substr(i, 2) == "\\$") {
      i += 2;
    } else if (text.substr(i, 2) == "$$") {
      i = add(i, 2, "$$", false);
    } else if (text[i] == '$') {
      std::size_t close = i + 1;
      while ((close = text.find('$', close)) != npos && text[close - 1] == '\\') ++close;
      const std::string_view content = close == npos ? std::string_view() : text.substr(i + 1, close - i - 1);
      if (close == npos || content.find('\n') != npos) {
        ++i;
        continue;
      }
      spans.push_back({i, close + 1, content});
      i = close + 1;
    } else if (text.substr(i, 2) == "\\(") {
      i = add(i, 2, "\\)", false);
    } else if (text.substr(i, 2) == "\\[") {
      i = add(i, 2, "\\]", false);
    } else {
      ++i;
    }
  }
  return spans;
}

// A number written in prose: optional sign, digits with comma thousands, decimals, "/denominator", "%".
// Not one glued to a word ("AZYUK2A"), an exponent or a subscript.
std::optional<Span> number_at(std::string_view text, std::size_t i) {
  const bool starts = is_digit(text[i]) || (text[i] == '.' && i + 1 < text.size() && is_digit(text[i + 1]));
  if (!starts) return std::nullopt;
  if (i > 0 && (is_alphanumeric(text[i - 1]) || std::string_view("._^\\{").find(text[i - 1]) != npos)) {
    return std::nullopt;
  }
  std::size_t end = i;
  const auto digits = [&] {
    while (end < text.size() && is_digit(text[end])) ++end;
  };
  digits();
  while (end + 3 < text.size() && text[end] == ',' && is_digit(text[end + 1]) && is_digit(text[end + 2]) &&
         is_digit(text[end + 3]) && (end + 4 == text.size() || !is_digit(text[end + 4]))) {
    end += 4;
  }
  for (char joiner : {'.', '/'}) {
    if (end + 1 < text.size() && text[end] == joiner && is_digit(text[end + 1])) {
      ++end;
      digits();
    }
  }
  if (end < text.size() && text[end] == '%') ++end;
  std::size_t begin = i;
  if (i > 0 && text[i - 1] == '-' && (i == 1 || !is_alphanumeric(text[i - 2]))) --begin;
  return Span{begin, end, text.substr(begin, end - begin)};
}

std::optional<Span> last_number(std::string_view text, const std::vector<Span>& skipped) {
  std::optional<Span> last;
  std::size_t next_skipped = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (next_skipped < skipped.size() && i >= skipped[next_skipped].begin) {
      i = skipped[next_skipped++].end - 1;
      continue;
    }
    if (const auto number = number_at(text, i)) {
      last = number;
      i = number->end - 1;
    }
  }
  return last;
}

// Symbols outside ASCII that answers use; any other non-ASCII character is prose (Chinese, accents).
std::size_t math_symbol_length(std::string_view text, std::size_t at) {
  static constexpr std::array<std::string_view, 18> symbols = {
      "\u03c0", "\u221a", "\u221e", "\u2264", "\u2265", "\u2260", "\u00b0", "\u00b2", "\u00b3",
      "\u00d7", "\u00b7", "\u00f7", "\u2212", "\u222a", "\u2248", "\u20ac", "\u00a3", "\u00a5"};
  for (std::string_view symbol : symbols) {
    if (text.substr(at, symbol.size()) == symbol) return symbol.size();
  }
  return 0;
}

// Whether the ASCII word at [begin, end) is part of the mathematics: a command (\frac), an environment
// name (\begin{pmatrix}), a function or connective written out (exp, sqrt, and).
bool math_word(std::string_view text, std::size_t begin, std::size_t end) {
  static constexpr std::array<std::string_view, 16> words = {"sin",  "cos", "tan", "sec", "csc", "cot", "log", "exp",
                                                             "sqrt", "and", "inf", "min", "max", "gcd", "lcm", "mod"};
  if (begin > 0 && text[begin - 1] == '\\') return true;
  const std::string_view before = text.substr(0, begin);
  if (before.ends_with("\\begin{") || before.ends_with("\\end{")) return true;
  const std::string word = lowercase_ascii(text.substr(begin, end - begin));
  return word.size() < 3 || std::find(words.begin(), words.end(), word) != words.end();
}

// Whether prose remains: a word of three or more letters that is not mathematics, or non-ASCII text.
bool has_words(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) {
      const std::size_t symbol = math_symbol_length(text, i);
      if (symbol == 0) return true;
      i += symbol;
      continue;
    }
    if (!is_letter(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && is_letter(text[end])) ++end;
    if (!math_word(text, i, end)) return true;
    i = end;
  }
  return false;
}

// The first stretch of prose that reads as mathematics and holds a digit: "220 $" in "Janeth aura encore
// 220 $ à payer", "(\frac{2}{5})" in "每份应该是 (\frac{2}{5}) 吨". Letters only count inside commands.
std::optional<std::string> first_math_chunk(std::string_view text) {
  const auto math_length = [&](std::size_t at) -> std::size_t {
    const char c = text[at];
    if (c == '\\') {
      std::size_t end = at + 1;
      while (end < text.size() && is_letter(text[end])) ++end;
      return end - at;
    }
    if (static_cast<unsigned char>(c) >= 0x80) return math_symbol_length(text, at);
    return is_letter(c) || c == '\'' ? 0 : 1;
  };
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    bool digit = false;
    for (std::size_t length; i < text.size() && (length = math_length(i)) > 0; i += length)
      digit = digit || is_digit(text[i]);
    std::string_view chunk = trim(text.substr(start, i - start));
    while (!chunk.empty() && std::string_view(".,;:").find(chunk.back()) != npos)
      chunk = trim(chunk.substr(0, chunk.size() - 1));
    if (digit && !chunk.empty()) return std::string(chunk);
    if (i == start) {
      ++i;
      while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;  // rest of a UTF-8 character
    }
  }
  return std::nullopt;
}

// The sentence up to its end: a period before a space outside math, "I hope it is correct", a chat token.
std::string_view first_sentence(std::string_view line) {
  if (const std::size_t hope = lowercase_ascii(line).find("i hope"); hope != npos) line = line.substr(0, hope);
  if (const std::size_t token = line.find("<|"); token != npos) line = line.substr(0, token);
  const std::vector<Span> spans = math_spans(line);
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    if (line[i] != '.' || !is_space(line[i + 1])) continue;
    const bool in_math =
        std::any_of(spans.begin(), spans.end(), [&](const Span& span) { return i > span.begin && i < span.end; });
    if (!in_math) return trim(line.substr(0, i));
  }
  return trim(line);
}

// The answer in the sentence that follows an answer phrase ("... is $\frac{1}{3}$. I hope it is correct.").
std::optional<std::string> answer_in_sentence(std::string_view tail) {
  while (!tail.empty() && (is_space(tail.front()) || tail.front() == ':' || tail.front() == '*')) tail.remove_prefix(1);
  for (auto [open, close] : {std::pair{"\\[", "\\]"}, std::pair{"$$", "$$"}}) {
    if (!tail.starts_with(open)) continue;
    const std::size_t end = tail.find(close, 2);
    if (end != npos) return std::string(trim(tail.substr(2, end - 2)));
  }
  std::string_view line = first_sentence(tail.substr(0, tail.find('\n')));
  while (!line.empty() && (line.back() == '.' || line.back() == '*')) line = trim(line.substr(0, line.size() - 1));
  if (line.empty()) return std::nullopt;
  // "The largest $n$ is 34": the answer follows the last " is ".
  if (const std::size_t is = line.rfind(" is "); is != npos) line = trim(line.substr(is + 4));
  const std::vector<Span> spans = math_spans(line);
  if (!spans.empty()) {
    std::string outside(line);
    for (auto span = spans.rbegin(); span != spans.rend(); ++span) outside.erase(span->begin, span->end - span->begin);
    if (trim(outside).empty() && spans.size() == 1) return std::string(trim(spans.front().content));
    if (!has_words(outside)) return std::string(line);  // "$12$ and $13$"
    return std::string(trim(spans.back().content));
  }
  if (has_words(line)) return first_math_chunk(line).value_or(std::string(line));
  return std::string(line);
}

std::optional<std::string> phrase_answer(std::string_view text) {
  static constexpr std::array<std::string_view, 13> phrases = {
      "final answer is", "final answer:", "the answer is", "answer is",      "answer:",    "答案是",  "答案为",
      "答案：",          "答案:",         "r\u00e9ponse:", "r\u00e9ponse :", "respuesta:", "antwort:"};
  const std::string lowered = lowercase_ascii(text);
  std::size_t best_end = npos;
  for (std::string_view phrase : phrases) {
    const std::size_t at = find_last(lowered, phrase);
    if (at == npos) continue;
    const std::size_t end = at + phrase.size();
    if (best_end == npos || end > best_end) best_end = end;
  }
  if (best_end == npos) return std::nullopt;
  return answer_in_sentence(text.substr(best_end));
}

// A response that is only an answer: one line of mathematics ("\frac{1}{2}", "x = 5") or a text answer of
// at most two plain words that ends no sentence ("Monday", "\text{Evelyn}"). Prose with numbers in it
// ("AZYUK2A", a sentence in Chinese) is left to the number fallback.
bool is_bare_answer(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.find('\n') != npos) return false;
  if (!has_words(text)) return true;
  const bool plain = std::none_of(text.begin(), text.end(), [](char c) {
    return is_digit(c) || static_cast<unsigned char>(c) >= 0x80 || c == '.' || c == '?' || c == '!';
  });
  return plain && std::count(text.begin(), text.end(), ' ') <= 1;
}

// Whichever ends last: the last math span or the last number outside spans.
std::optional<std::string> last_math_or_number(std::string_view text) {
  const std::vector<Span> spans = math_spans(text);
  const auto number = last_number(text, spans);
  const Span* span = spans.empty() ? nullptr : &spans.back();
  if (span && (!number || span->end > number->end)) {
    const std::string_view content = trim(span->content);
    if (!content.empty()) return std::string(content);
  }
  if (number) return std::string(number->content);
  return std::nullopt;
}

// ---------------------------------------------------------------- normalisation

struct Normalized {
  std::string text;
  bool percent = false;  // a percent sign or word was removed
};

void replace_unicode(std::string& text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> replacements = {{
      {"\u2212", "-"},
      {"\u00d7", "\\times "},
      {"\u00b7", "\\cdot "},
      {"\u00f7", "\\div "},
      {"\u03c0", "\\pi "},
      {"\u221a", "\\sqrt"},
      {"\u221e", "\\infty "},
      {"\u2264", "\\le "},
      {"\u2265", "\\ge "},
      {"\u2260", "\\ne "},
      {"\u00b0", "^\\circ"},
      {"\u00b2", "^2"},
      {"\u00b3", "^3"},
      {"\u222a", "\\cup "},
      {"\u00a0", " "},
      {"\u2248", "\\approx "},
      {"\u2009", " "},
  }};
  for (const auto& [from, to] : replacements) replace_all(text, from, to);
}

// "\boxed{x}" around the whole answer (a gold may be stored boxed).
void unwrap_whole_box(std::string& text) {
  while (true) {
    const std::string_view view = trim(text);
    if (!command_at(view, 0, "boxed") && !command_at(view, 0, "fbox")) return;
    const auto box = box_at(view, 0);
    if (!box || box->end != view.size()) return;
    text = std::string(box->content);
  }
}

void remove_math_delimiters(std::string& text) {
  replace_all(text, "\\$", "");
  for (std::string_view delimiter : {"$", "\\(", "\\)", "\\[", "\\]"}) replace_all(text, delimiter, "");
}

// 10,\!000 and 14{,}916 are LaTeX's thousands separators; must run before \! is removed.
void join_latex_thousands(std::string& text) {
  for (std::string_view separator : {",\\!", "{,}"}) {
    for (std::size_t at = text.find(separator); at != npos; at = text.find(separator, at)) {
      const std::string_view rest = trim(std::string_view(text).substr(at + separator.size()));
      const bool between_digits = at > 0 && is_digit(text[at - 1]) && !rest.empty() && is_digit(rest.front());
      if (between_digits) {
        text.erase(at, separator.size());
        while (at < text.size() && is_space(text[at])) text.erase(at, 1);
      } else {
        at += separator.size();
      }
    }
  }
}

// \! \, \; \: "\ " and ~, but not the "\\" that ends a matrix row before a space.
void remove_spacing_commands(std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool escaped = i > 0 && text[i - 1] == '\\' && (i < 2 || text[i - 2] != '\\');
    if (text[i] == '\\' && i + 1 < text.size() && std::string_view("!,;: ").find(text[i + 1]) != npos && !escaped) {
      if (text[i + 1] != '!') out += ' ';
      ++i;
    } else {
      out += text[i] == '~' ? ' ' : text[i];
    }
  }
  text = out;
}

void remove_sizing_and_spacing(std::string& text) {
  // \left. and \right. are invisible delimiters
  replace_all(text, "\\left.", "");
  replace_all(text, "\\right.", "");
  for (std::string_view sizing :
       {"displaystyle", "textstyle", "bigl", "bigr", "Bigl", "Bigr", "big", "Big", "left", "right"}) {
    replace_command(text, sizing, "");
  }
  remove_spacing_commands(text);
  for (std::string_view space : {"qquad", "quad"}) replace_command(text, space, " ");
  for (char& c : text) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
}

// "\text {cm}" -> "\text{cm}": a command's braced argument may follow spaces.
void attach_arguments(std::string& text) {
  for (std::size_t at = text.find('\\'); at != npos; at = text.find('\\', at + 1)) {
    std::size_t end = at + 1;
    while (end < text.size() && is_letter(text[end])) ++end;
    std::size_t brace = end;
    while (brace < text.size() && text[brace] == ' ') ++brace;
    if (end > at + 1 && brace > end && brace < text.size() && text[brace] == '{') text.erase(end, brace - end);
  }
}

void canonicalize_commands(std::string& text) {
  attach_arguments(text);
  for (std::string_view fraction : {"dfrac", "tfrac", "cfrac"}) replace_command(text, fraction, "\\frac");
  for (std::string_view binomial : {"dbinom", "tbinom"}) replace_command(text, binomial, "\\binom");
  for (std::string_view name : {"leqslant", "leq"}) replace_command(text, name, "\\le");
  for (std::string_view name : {"geqslant", "geq"}) replace_command(text, name, "\\ge");
  replace_command(text, "neq", "\\ne");
  replace_command(text, "lt", "<");
  replace_command(text, "gt", ">");
  replace_command(text, "varnothing", "\\emptyset");
  replace_all(text, "<=", "\\le ");
  replace_all(text, ">=", "\\ge ");
  replace_all(text, "!=", "\\ne ");
  replace_all(text, "\\{\\}", "\\emptyset");
  replace_command(text, "mathbf", "\\text");
}

void remove_degrees(std::string& text) {
  for (std::string_view degree : {"^{\\circ}", "^\\circ", "\\circ", "\\degree"}) replace_all(text, degree, "");
}

bool remove_percent_signs(std::string& text) {
  const std::size_t before = text.size();
  replace_all(text, "\\%", "");
  std::erase(text, '%');
  return text.size() != before;
}

// A sentence's period or comma after the answer; an ellipsis ("1, 2, 3, ...") is part of the answer.
void strip_trailing_punctuation(std::string& text) {
  while (!text.empty() && !text.ends_with("..") &&
         (is_space(text.back()) || text.back() == '.' || text.back() == ',' || text.back() == ';')) {
    text.pop_back();
  }
}

// The braced group that ends the text, allowing a trailing ^2 / ^{3} ("\mbox{ cm}^2"): its command start.
std::optional<std::size_t> trailing_text_command(std::string_view text) {
  std::string_view rest = trim(text);
  for (std::string_view power : {"^{2}", "^{3}", "^2", "^3"}) {
    if (rest.ends_with(power)) {
      rest = trim(rest.substr(0, rest.size() - power.size()));
      break;
    }
  }
  if (rest.empty() || rest.back() != '}') return std::nullopt;
  for (std::string_view command :
       {"\\text", "\\mbox", "\\textnormal", "\\textrm", "\\mathrm", "\\textit", "\\textbf"}) {
    const std::size_t at = rest.rfind(command);
    if (at == npos || rest.substr(at + command.size(), 1) != "{") continue;
    const auto close = matching_brace(rest, at + command.size());
    if (!close || *close + 1 != rest.size()) continue;
    const std::string_view content = rest.substr(at + command.size() + 1, *close - at - command.size() - 1);
    const bool unit_like = !trim(content).empty() && std::all_of(content.begin(), content.end(), [](char c) {
      return is_letter(c) || is_space(c) || c == '.' || c == '/' || c == '^';
    });
    if (unit_like) return at;
  }
  return std::nullopt;
}

const std::vector<std::string>& unit_words() {
  // Units and counted nouns as PRM800K, Minerva and Qwen2.5-Math strip them, without their single letters
  // (m, s, g) that double as variables.
  static const std::vector<std::string> words = [] {
    const std::vector<std::string> singular = {
        "unit",       "square",     "sq",         "cubic",     "cm",     "mm",     "km",       "meter",  "metre",
        "centimeter", "centimetre", "millimeter", "kilometer", "inch",   "inche",  "foot",     "feet",   "ft",
        "yard",       "yd",         "mile",       "mph",       "kph",    "second", "sec",      "minute", "min",
        "hour",       "hr",         "day",        "week",      "month",  "year",   "degree",   "deg",    "radian",
        "dollar",     "cent",       "euro",       "pound",     "lb",     "ounce",  "oz",       "gram",   "kg",
        "mg",         "liter",      "litre",      "ml",        "gallon", "acre",   "hectare",  "point",  "way",
        "integer",    "digit",      "student",    "people",    "person", "child",  "children", "edge",   "vertex",
        "vertices",   "face",       "game",       "page",      "book",   "coin",   "marble",   "ball",   "apple",
        "handshake",  "triangle",   "term",       "number",    "time",   "km/h",   "m/s"};
    std::vector<std::string> all;
    for (const std::string& word : singular) {
      all.push_back(word + "es");
      all.push_back(word + "s");
      all.push_back(word);
    }
    return all;
  }();
  return words;
}

// Removes one trailing unit word (with ^2/^3) after a number or closing bracket; true when one was removed.
bool remove_trailing_unit_word(std::string& text) {
  std::string_view rest = trim(text);
  for (std::string_view power : {"^{2}", "^{3}", "^2", "^3"}) {
    if (rest.ends_with(power)) {
      rest = rest.substr(0, rest.size() - power.size());
      break;
    }
  }
  std::size_t start = rest.size();
  while (start > 0 && (is_letter(rest[start - 1]) || rest[start - 1] == '/')) --start;
  const std::string word = lowercase_ascii(rest.substr(start));
  if (word.empty() || (start > 0 && rest[start - 1] == '\\')) return false;
  if (std::find(unit_words().begin(), unit_words().end(), word) == unit_words().end()) return false;
  const std::string_view before = trim(rest.substr(0, start));
  if (before.empty()) return false;
  const char last = before.back();
  const bool after_value = is_digit(last) || last == '}' || last == ')' || start > before.size();
  if (!after_value) return false;
  text = std::string(before);
  return true;
}

void remove_trailing_units(std::string& text) {
  for (int round = 0; round < 3; ++round) {
    if (const auto at = trailing_text_command(text); at && !trim(std::string_view(text).substr(0, *at)).empty()) {
      text.erase(*at);
      strip_trailing_punctuation(text);
      continue;
    }
    if (!remove_trailing_unit_word(text)) return;
    strip_trailing_punctuation(text);
  }
}

// \text{X}, \mbox{X}, \mathrm{X}, ... -> X
void unwrap_text_commands(std::string& text) {
  for (std::string_view command :
       {"text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathit", "mbox", "operatorname"}) {
    std::size_t at = text.find('\\');
    while (at != npos) {
      const std::size_t open = at + 1 + command.size();
      const bool wrapped = command_at(text, at, command) && open < text.size() && text[open] == '{';
      const auto close = wrapped ? matching_brace(text, open) : std::nullopt;
      if (!close) {
        at = text.find('\\', at + 1);
        continue;
      }
      text.erase(*close, 1);
      text.erase(at, open + 1 - at);
      at = text.find('\\', at);
    }
  }
}

bool remove_percent_words(std::string& text) {
  const std::string lowered = lowercase_ascii(text);
  for (std::string_view word : {"percentage", "percent", "pct"}) {
    if (lowered.ends_with(word) && word_at(lowered, lowered.size() - word.size(), word)) {
      text.erase(text.size() - word.size());
      strip_trailing_punctuation(text);
      return true;
    }
  }
  return false;
}

// "12 and 13", "1, 2, and 3", "x=1 or x=2": the words become list commas.
void replace_connector_words(std::string& text) {
  for (std::string_view word : {"and", "or"}) {
    for (std::size_t at = text.find(word); at != npos; at = text.find(word, at + 1)) {
      if (word_at(text, at, word) && (at == 0 || text[at - 1] != '\\')) text.replace(at, word.size(), ",");
    }
  }
  // collapse ", ," left by "1, 2, and 3"
  std::string collapsed;
  for (char c : text) {
    if (c == ',') {
      while (!collapsed.empty() && is_space(collapsed.back())) collapsed.pop_back();
      if (!collapsed.empty() && collapsed.back() == ',') continue;
    }
    collapsed += c;
  }
  text = collapsed;
  while (!text.empty() && (text.front() == ',' || is_space(text.front()))) text.erase(0, 1);
}

void replace_infinity_words(std::string& text) {
  for (std::string_view word : {"infinity", "inf"}) {
    for (std::size_t at = text.find(word); at != npos; at = text.find(word, at + 1)) {
      if (word_at(text, at, word) && (at == 0 || text[at - 1] != '\\')) text.replace(at, word.size(), "\\infty");
    }
  }
}

// "x \in [0,1)" -> "[0,1)"
void remove_membership_prefix(std::string& text) {
  const std::size_t in = text.find("\\in");
  if (in == npos || !command_at(text, in, "in")) return;
  std::string_view subject = trim(std::string_view(text).substr(0, in));
  if (subject.empty() || subject.size() > 6 || !is_letter(subject.front())) return;
  if (!std::all_of(subject.begin(), subject.end(),
                   [](char c) { return is_alphanumeric(c) || c == '_' || c == '{' || c == '}'; })) {
    return;
  }
  text.erase(0, in + 3);
}

void collapse_spaces(std::string& text) {
  std::string out;
  for (char c : trim(text)) {
    if (is_space(c) && !out.empty() && out.back() == ' ') continue;
    out += is_space(c) ? ' ' : c;
  }
  text = out;
}

bool all_digits(std::string_view text) { return !text.empty() && std::all_of(text.begin(), text.end(), is_digit); }

// "1,234,567" or "1 234 567" as the whole answer -> "1234567"; "(1,234)" stays a pair and "32, 349" a list.
void join_plain_thousands(std::string& text) {
  for (char separator : {',', ' '}) {
    std::string_view number = text;
    if (number.starts_with('-')) number.remove_prefix(1);
    if (const std::size_t point = number.find('.'); point != npos && separator == ',') {
      if (!all_digits(number.substr(point + 1))) return;
      number = number.substr(0, point);
    }
    std::vector<std::string_view> groups;
    for (std::size_t at = 0;;) {
      const std::size_t next = number.find(separator, at);
      groups.push_back(number.substr(at, next == npos ? npos : next - at));
      if (next == npos) break;
      at = next + 1;
    }
    if (groups.size() < 2 || !all_digits(groups.front()) || groups.front().size() > 3) continue;
    if (!std::all_of(groups.begin() + 1, groups.end(),
                     [](std::string_view g) { return g.size() == 3 && all_digits(g); })) {
      continue;
    }
    std::erase(text, separator);
    return;
  }
}

// "016" -> "16", as AIME answers are written.
void strip_leading_zeros(std::string& text) {
  const std::size_t start = text.starts_with('-') ? 1 : 0;
  if (!all_digits(std::string_view(text).substr(start))) return;
  std::size_t first = start;
  while (first + 1 < text.size() && text[first] == '0') ++first;
  text.erase(start, first - start);
}

// "(B)" -> "B": a choice letter in parentheses.
void unwrap_single_letter(std::string& text) {
  if (text.size() == 3 && text.front() == '(' && text.back() == ')' && is_letter(text[1])) text = text.substr(1, 1);
}

// "\\frac" written with a doubled backslash (an escaping slip) outside matrices, whose rows end in "\\".
void undouble_backslashes(std::string& text) {
  if (text.find("\\begin") != npos) return;
  for (std::size_t at = text.find("\\\\"); at != npos; at = text.find("\\\\", at + 1)) {
    if (at + 2 < text.size() && is_letter(text[at + 2])) text.erase(at, 1);
  }
}

Normalized normalize(std::string_view answer) {
  std::string text(trim(answer));
  replace_unicode(text);
  unwrap_whole_box(text);
  remove_math_delimiters(text);
  undouble_backslashes(text);
  join_latex_thousands(text);
  remove_sizing_and_spacing(text);
  canonicalize_commands(text);
  remove_degrees(text);
  bool percent = remove_percent_signs(text);
  strip_trailing_punctuation(text);
  remove_trailing_units(text);
  unwrap_text_commands(text);
  collapse_spaces(text);
  percent = remove_percent_words(text) || percent;
  remove_trailing_units(text);
  replace_connector_words(text);
  replace_infinity_words(text);
  remove_membership_prefix(text);
  collapse_spaces(text);
  strip_trailing_punctuation(text);
  join_plain_thousands(text);
  strip_leading_zeros(text);
  unwrap_single_letter(text);
  return {text, percent};
}

// Whether a letter other than a command name occurs: "11a+c" has variables, "\frac{1}{3}" has none.
bool has_variables(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      while (i + 1 < text.size() && is_letter(text[i + 1])) ++i;
    } else if (is_letter(text[i])) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- structure

enum class Shape {
  value,           // one expression, or text
  relation,        // sides joined by =, <, \le, ...
  tuple,           // ordered, brackets kept: points, vectors, intervals
  set,             // \{...\}: unordered
  list,            // bare "1, 2" or the two values of \pm: unordered solutions
  interval_union,  // pieces joined by \cup: unordered
  matrix,          // rows (tuples) of cells
};

struct Answer {
  Shape shape = Shape::value;
  std::string text;
  std::vector<Answer> items;           // elements, relation sides, union pieces, matrix rows
  std::vector<std::string> operators;  // relation: between consecutive sides
  char open = 0;                       // tuple brackets
  char close = 0;
};

Answer make_answer(Shape shape, std::string_view text, char open = 0, char close = 0) {
  Answer answer;
  answer.shape = shape;
  answer.text = std::string(text);
  answer.open = open;
  answer.close = close;
  return answer;
}

constexpr int max_structure_depth = 8;

// Splits at depth 0 of ( [ { and \langle: `separator_length(text, i)` says how long a separator starts at i
// (0: none). Returns the pieces and, through `separators`, the separators themselves.
template <typename SeparatorLength>
std::vector<std::string_view> split_top_level(std::string_view text, SeparatorLength separator_length,
                                              std::vector<std::string_view>* separators = nullptr) {
  std::vector<std::string_view> pieces;
  int depth = 0;
  std::size_t piece_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (command_at(text, i, "langle")) ++depth;
    if (command_at(text, i, "rangle")) --depth;
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) continue;
    const std::size_t length = separator_length(text, i);
    if (length == 0) continue;
    pieces.push_back(trim(text.substr(piece_start, i - piece_start)));
    if (separators) separators->push_back(text.substr(i, length));
    piece_start = i + length;
    i += length - 1;
  }
  pieces.push_back(trim(text.substr(piece_start)));
  return pieces;
}

std::size_t comma_length(std::string_view text, std::size_t i) { return text[i] == ',' || text[i] == ';' ? 1 : 0; }

std::size_t cup_length(std::string_view text, std::size_t i) { return command_at(text, i, "cup") ? 4 : 0; }

std::size_t relation_length(std::string_view text, std::size_t i) {
  if (text[i] == '=' || text[i] == '<' || text[i] == '>') return 1;
  for (std::string_view name : {"le", "ge", "ne", "approx"}) {
    if (command_at(text, i, name)) return name.size() + 1;
  }
  return 0;
}

struct Wrapping {
  char open;
  char close;
  bool escaped_braces;  // \{ ... \}: a set
  std::string_view inner;
};

// The brackets around the whole text, if one pair encloses all of it.
std::optional<Wrapping> wrapping(std::string_view text) {
  if (command_at(text, 0, "langle") && text.ends_with("\\rangle")) {
    return Wrapping{'(', ')', false, trim(text.substr(7, text.size() - 14))};
  }
  const bool escaped = text.starts_with("\\{") && text.ends_with("\\}");
  const std::size_t open_at = escaped ? 1 : 0;
  if (text.size() < 2 + open_at || std::string_view("([{").find(text[open_at]) == npos) return std::nullopt;
  if (std::string_view(")]}").find(text.back()) == npos) return std::nullopt;
  int depth = 0;
  for (std::size_t i = open_at; i < text.size(); ++i) {
    if (text[i] == '(' || text[i] == '[' || text[i] == '{') ++depth;
    if (text[i] == ')' || text[i] == ']' || text[i] == '}') --depth;
    if (depth == 0 && i + 1 != text.size()) return std::nullopt;
  }
  const std::size_t inner_end = text.size() - 1 - (escaped ? 1 : 0);
  return Wrapping{text[open_at], text.back(), escaped, trim(text.substr(open_at + 1, inner_end - open_at - 1))};
}

Answer read_answer(std::string_view text, int depth = 0);

// Elements of a set or list; lists inside (the two values of \pm) are spliced in.
std::vector<Answer> read_elements(const std::vector<std::string_view>& pieces, int depth) {
  std::vector<Answer> elements;
  for (std::string_view piece : pieces) {
    Answer element = read_answer(piece, depth + 1);
    if (element.shape == Shape::list) {
      std::move(element.items.begin(), element.items.end(), std::back_inserter(elements));
    } else {
      elements.push_back(std::move(element));
    }
  }
  return elements;
}

std::optional<Answer> read_matrix(std::string_view text, int depth) {
  static constexpr std::array<std::string_view, 7> environments = {"pmatrix", "bmatrix",     "Bmatrix", "vmatrix",
                                                                   "matrix",  "smallmatrix", "array"};
  for (std::string_view environment : environments) {
    const std::string begin = "\\begin{" + std::string(environment) + "}";
    const std::string end = "\\end{" + std::string(environment) + "}";
    if (!text.starts_with(begin) || !text.ends_with(end)) continue;
    std::string_view body = text.substr(begin.size(), text.size() - begin.size() - end.size());
    if (environment == "array" && trim(body).starts_with('{')) {  // the column specification
      body = trim(body);
      const auto close = matching_brace(body, 0);
      if (!close) return std::nullopt;
      body = body.substr(*close + 1);
    }
    Answer matrix = make_answer(Shape::matrix, text);
    const auto row_separator = [](std::string_view row_text, std::size_t i) -> std::size_t {
      return row_text.substr(i, 2) == "\\\\" ? 2 : 0;
    };
    const auto cell_separator = [](std::string_view row_text, std::size_t i) -> std::size_t {
      return row_text[i] == '&' ? 1 : 0;
    };
    for (std::string_view row_text : split_top_level(body, row_separator)) {
      if (row_text.empty()) continue;
      Answer row = make_answer(Shape::tuple, row_text, '[', ']');
      for (std::string_view cell : split_top_level(row_text, cell_separator))
        row.items.push_back(read_answer(cell, depth + 1));
      matrix.items.push_back(std::move(row));
    }
    if (matrix.items.empty()) return std::nullopt;
    return matrix;
  }
  return std::nullopt;
}

// "x = 1 \pm \sqrt{19}" is the two answers 1 + \sqrt{19} and 1 - \sqrt{19}.
std::optional<Answer> read_plus_minus(std::string_view text, int depth) {
  struct SignPair {
    std::string_view command;
    std::string_view first;
    std::string_view second;
  };
  for (const SignPair& pair : {SignPair{"pm", "+", "-"}, SignPair{"mp", "-", "+"}}) {
    std::size_t at = text.find('\\');
    while (at != npos && !command_at(text, at, pair.command)) at = text.find('\\', at + 1);
    if (at == npos) continue;
    Answer both = make_answer(Shape::list, text);
    for (std::string_view sign : {pair.first, pair.second}) {
      std::string expanded(text);
      expanded.replace(at, 3, sign);
      Answer one = read_answer(expanded, depth + 1);
      if (one.shape == Shape::list) {
        std::move(one.items.begin(), one.items.end(), std::back_inserter(both.items));
      } else {
        both.items.push_back(std::move(one));
      }
    }
    return both;
  }
  return std::nullopt;
}

Answer read_answer(std::string_view text, int depth) {
  text = trim(text);
  Answer answer = make_answer(Shape::value, text);
  if (depth > max_structure_depth) return answer;
  if (auto matrix = read_matrix(text, depth)) return *matrix;
  if (const auto pieces = split_top_level(text, cup_length); pieces.size() > 1) {
    answer.shape = Shape::interval_union;
    for (std::string_view piece : pieces) answer.items.push_back(read_answer(piece, depth + 1));
    return answer;
  }
  if (const auto wrap = wrapping(text)) {
    const auto pieces = split_top_level(wrap->inner, comma_length);
    if (wrap->escaped_braces || (wrap->open == '{' && pieces.size() > 1)) {
      answer.shape = Shape::set;
      if (!wrap->inner.empty()) answer.items = read_elements(pieces, depth);
      return answer;
    }
    if (pieces.size() > 1) {
      answer.shape = Shape::tuple;
      answer.open = wrap->open;
      answer.close = wrap->close;
      for (std::string_view piece : pieces) answer.items.push_back(read_answer(piece, depth + 1));
      return answer;
    }
    if (auto matrix = read_matrix(wrap->inner, depth)) return *matrix;
  }
  if (const auto pieces = split_top_level(text, comma_length); pieces.size() > 1) {
    answer.shape = Shape::list;
    answer.items = read_elements(pieces, depth);
    return answer;
  }
  if (auto both = read_plus_minus(text, depth)) return *both;
  std::vector<std::string_view> operators;
  auto sides = split_top_level(text, relation_length, &operators);
  // "x = 1/3 \approx 0.33": the approximation after an equation adds nothing.
  for (std::size_t k = 1; k < operators.size(); ++k) {
    if (operators[k] == "\\approx" && operators[k - 1] == "=") {
      sides.resize(k + 1);
      operators.resize(k);
      break;
    }
  }
  // "\frac{9.5}{3.14159} \approx 3.01": the exact value, then its rounding.
  if (operators.size() == 1 && operators.front() == "\\approx" && !has_variables(sides.front())) {
    return read_answer(sides.front(), depth + 1);
  }
  if (sides.size() > 1) {
    answer.shape = Shape::relation;
    for (std::string_view side : sides) answer.items.push_back(read_answer(side, depth + 1));
    for (std::string_view op : operators) answer.operators.emplace_back(op == "\\approx" ? "=" : op);
  }
  return answer;
}

// ---------------------------------------------------------------- comparison

std::string compact(std::string_view text) {
  std::string out(text);
  std::erase_if(out, is_space);
  return out;
}

// Text answers ("Evelyn", "\text{(B)}") compared without case, spaces or braces.
std::string text_key(std::string_view text) {
  std::string key = lowercase_ascii(text);
  std::erase_if(key, [](char c) { return is_space(c) || c == '{' || c == '}'; });
  return key;
}

// The left side of an assignment: x, AB, x_1, \theta, f(x).
bool is_variable(std::string_view text) {
  text = trim(text);
  if (text.starts_with('\\')) {
    const std::string_view name = text.substr(1);
    return !name.empty() && std::all_of(name.begin(), name.end(), is_letter) && name != "infty" && name != "pi";
  }
  std::size_t i = 0;
  while (i < text.size() && i < 2 && is_letter(text[i])) ++i;
  if (i == 0) return false;
  if (i < text.size() && text[i] == '_') {
    ++i;
    if (i < text.size() && text[i] == '{') {
      const auto close = matching_brace(text, i);
      if (!close) return false;
      i = *close + 1;
    } else if (i < text.size() && is_alphanumeric(text[i])) {
      ++i;
    } else {
      return false;
    }
  }
  while (i < text.size() && text[i] == '\'') ++i;
  if (i < text.size() && text[i] == '(' && text.back() == ')') {
    const std::string_view arguments = text.substr(i + 1, text.size() - i - 2);
    return arguments.find_first_of("()") == npos;
  }
  return i == text.size();
}

// The value an equation states: the last side of "x = 5 + 6 = 11" (first side a variable), of
// "1 = y = x = 0" (the side before the last a variable), and, for a prediction, of a worked computation
// that ends in a constant ("3 + 4 = 7"). "7 = 11a + c" and "a + 3z = 0" state no value.
const Answer* assigned_value(const Answer& relation, bool worked_computation_allowed) {
  if (!std::all_of(relation.operators.begin(), relation.operators.end(),
                   [](const std::string& op) { return op == "="; })) {
    return nullptr;
  }
  const auto& sides = relation.items;
  const bool assignment =
      is_variable(sides.front().text) || (sides.size() >= 3 && is_variable(sides[sides.size() - 2].text));
  const bool computation = worked_computation_allowed && sides.size() >= 3 && !has_variables(sides.back().text);
  return assignment || computation ? &sides.back() : nullptr;
}

// "a > b > c" becomes "c < b < a", so one direction needs comparing.
Answer oriented(const Answer& relation) {
  const bool decreasing = std::all_of(relation.operators.begin(), relation.operators.end(),
                                      [](const std::string& op) { return op == ">" || op == "\\ge"; });
  if (!decreasing) return relation;
  Answer flipped = relation;
  std::reverse(flipped.items.begin(), flipped.items.end());
  std::reverse(flipped.operators.begin(), flipped.operators.end());
  for (std::string& op : flipped.operators) op = op == ">" ? "<" : "\\le";
  return flipped;
}

// A gold inequality in one variable as an interval ("x > 3" is (3, \infty)), so a predicted interval can
// match it. Not the other way round: as in Math-Verify, restating a gold interval as an inequality does not
// count.
std::optional<Answer> relation_as_interval(const Answer& relation) {
  const Answer chain = oriented(relation);
  const auto strict = [](const std::string& op) -> std::optional<bool> {
    if (op == "<") return true;
    if (op == "\\le") return false;
    return std::nullopt;
  };
  std::vector<std::optional<bool>> strictness;
  for (const std::string& op : chain.operators) {
    strictness.push_back(strict(op));
    if (!strictness.back()) return std::nullopt;
  }
  const auto interval = [](std::string low, bool low_open, std::string high, bool high_open) {
    Answer result = make_answer(Shape::tuple, "", low_open ? '(' : '[', high_open ? ')' : ']');
    result.items.push_back(read_answer(low));
    result.items.push_back(read_answer(high));
    return result;
  };
  const auto& sides = chain.items;
  if (sides.size() == 3 && is_variable(sides[1].text)) {
    return interval(sides[0].text, *strictness[0], sides[2].text, *strictness[1]);
  }
  if (sides.size() != 2) return std::nullopt;
  if (is_variable(sides[0].text)) return interval("-\\infty", true, sides[1].text, *strictness[0]);
  if (is_variable(sides[1].text)) return interval(sides[0].text, *strictness[0], "\\infty", true);
  return std::nullopt;
}

bool equivalent(const Answer& gold, const Answer& predicted, bool percent);

bool ordered_equivalent(const std::vector<Answer>& gold, const std::vector<Answer>& predicted, bool percent) {
  if (gold.size() != predicted.size()) return false;
  for (std::size_t i = 0; i < gold.size(); ++i) {
    if (!equivalent(gold[i], predicted[i], percent)) return false;
  }
  return true;
}

bool unordered_equivalent(const std::vector<Answer>& gold, const std::vector<Answer>& predicted, bool percent) {
  if (gold.size() != predicted.size()) return false;
  std::vector<bool> used(predicted.size(), false);
  for (const Answer& element : gold) {
    bool matched = false;
    for (std::size_t i = 0; i < predicted.size() && !matched; ++i) {
      if (!used[i] && equivalent(element, predicted[i], percent)) used[i] = matched = true;
    }
    if (!matched) return false;
  }
  return true;
}

bool values_equivalent(const Answer& gold, const Answer& predicted, bool percent) {
  const auto verdict = latex_expressions_agree(gold.text, predicted.text);
  if (!verdict) return text_key(gold.text) == text_key(predicted.text);
  if (*verdict) return true;
  // A percentage may be given as its number or as a fraction: 10\% matches 10 and 0.1.
  if (!percent) return false;
  return latex_expressions_agree(gold.text, "100(" + predicted.text + ")").value_or(false) ||
         latex_expressions_agree("100(" + gold.text + ")", predicted.text).value_or(false);
}

// Two relations with the same operators. Two-sided ones compare their differences: equations up to a nonzero
// factor (2x+4y-3=0 and y=-x/2+3/4), inequalities up to a positive one (x<1 and -x>-1).
bool relations_equivalent(const Answer& gold, const Answer& predicted, bool percent) {
  const Answer g = oriented(gold);
  const Answer p = oriented(predicted);
  if (g.operators != p.operators) return false;
  const bool two_values =
      g.items.size() == 2 &&
      std::all_of(g.items.begin(), g.items.end(), [&](const Answer& side) { return side.shape == Shape::value; }) &&
      p.items[0].shape == Shape::value && p.items[1].shape == Shape::value;
  if (two_values) {
    const std::string& op = g.operators.front();
    const Agreement agreement =
        op == "=" || op == "\\ne" ? Agreement::proportional : Agreement::positively_proportional;
    const auto difference = [](const Answer& relation) {
      return "(" + relation.items[1].text + ")-(" + relation.items[0].text + ")";
    };
    if (const auto verdict = latex_expressions_agree(difference(g), difference(p), agreement)) return *verdict;
  }
  return ordered_equivalent(g.items, p.items, percent);
}

bool is_vector(const Answer& matrix) {
  return std::all_of(matrix.items.begin(), matrix.items.end(),
                     [](const Answer& row) { return row.items.size() == 1; }) ||
         matrix.items.size() == 1;
}

std::vector<Answer> vector_entries(const Answer& matrix) {
  if (matrix.items.size() == 1) return matrix.items.front().items;
  std::vector<Answer> entries;
  for (const Answer& row : matrix.items) entries.push_back(row.items.front());
  return entries;
}

bool collections_equivalent(const Answer& gold, const Answer& predicted, bool percent) {
  const Shape p = predicted.shape;
  switch (gold.shape) {
    case Shape::tuple:
      if (p == Shape::tuple) {
        return gold.open == predicted.open && gold.close == predicted.close &&
               ordered_equivalent(gold.items, predicted.items, percent);
      }
      // Unbracketed or braced elements in the gold's order (Math-Verify: (1,3) matches {1,3}, not {3,1}).
      if (p == Shape::list || p == Shape::set) return ordered_equivalent(gold.items, predicted.items, percent);
      if (p == Shape::matrix && is_vector(predicted)) {
        return ordered_equivalent(gold.items, vector_entries(predicted), percent);
      }
      return false;
    case Shape::set:
    case Shape::list:
      // Not a predicted tuple: (-2, 1) is a point or an interval, not the solutions 1 and -2.
      return (p == Shape::set || p == Shape::list) && unordered_equivalent(gold.items, predicted.items, percent);
    case Shape::interval_union:
      return p == Shape::interval_union && unordered_equivalent(gold.items, predicted.items, percent);
    case Shape::matrix:
      if (p == Shape::matrix) return ordered_equivalent(gold.items, predicted.items, percent);
      if (p == Shape::tuple && is_vector(gold))
        return ordered_equivalent(vector_entries(gold), predicted.items, percent);
      return false;
    case Shape::value:
    case Shape::relation:
      return false;
  }
  return false;
}

bool equivalent_with_relation(const Answer& gold, const Answer& predicted, bool percent) {
  if (gold.shape == Shape::relation && predicted.shape == Shape::relation) {
    if (relations_equivalent(gold, predicted, percent)) return true;
    const Answer* gold_value = assigned_value(gold, false);
    const Answer* predicted_value = assigned_value(predicted, true);
    const bool same_target =
        gold_value && predicted_value && compact(gold.items.front().text) == compact(predicted.items.front().text);
    return same_target && equivalent(*gold_value, *predicted_value, percent);
  }
  if (gold.shape == Shape::relation) {
    if (const Answer* value = assigned_value(gold, false)) return equivalent(*value, predicted, percent);
    if (const auto interval = relation_as_interval(gold)) return equivalent(*interval, predicted, percent);
    return false;
  }
  if (const Answer* value = assigned_value(predicted, true)) return equivalent(gold, *value, percent);
  return false;
}

bool equivalent(const Answer& gold, const Answer& predicted, bool percent) {
  if (!gold.text.empty() && compact(gold.text) == compact(predicted.text)) return true;
  if (gold.shape == Shape::relation || predicted.shape == Shape::relation) {
    return equivalent_with_relation(gold, predicted, percent);
  }
  if (gold.shape == Shape::value && predicted.shape == Shape::value) return values_equivalent(gold, predicted, percent);
  return collections_equivalent(gold, predicted, percent);
}

}  // namespace

std::optional<std::string_view> final_answer_text(std::string_view response) {
  constexpr std::string_view close = "</think>";
  if (const std::size_t at = find_last(response, close); at != npos) return response.substr(at + close.size());
  if (response.find("<think>") != npos) return std::nullopt;
  return response;
}

std::optional<std::string> extract_math_answer(std::string_view response) {
  const auto text = final_answer_text(response);
  if (!text) return std::nullopt;
  if (last_box_command(*text, text->size())) return boxed_answer(*text);
  if (auto phrase = phrase_answer(*text)) return phrase;
  if (is_bare_answer(*text)) return std::string(trim(*text));
  return last_math_or_number(*text);
}

std::string normalize_math_answer(std::string_view answer) { return normalize(answer).text; }

bool math_answers_equal(std::string_view gold, std::string_view predicted) {
  const std::optional<std::string> gold_box = last_box_command(gold, gold.size()) ? boxed_answer(gold) : std::nullopt;
  const Normalized g = normalize(gold_box ? std::string_view(*gold_box) : gold);
  const Normalized p = normalize(predicted);
  if (g.text.empty() || p.text.empty()) return false;
  if (compact(g.text) == compact(p.text)) return true;
  return equivalent(read_answer(g.text), read_answer(p.text), g.percent || p.percent);
}

}  // namespace rbench
