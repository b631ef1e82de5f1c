#include "scorers/mc_answer.h"

#include <array>
#include <span>
#include <string>

#include "scorers/math_answer.h"

namespace rbench {

namespace {

using answer_text::find_last;
using answer_text::lowercase_ascii;
using answer_text::trim;

constexpr std::size_t npos = std::string_view::npos;

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }

bool starts_with_word(std::string_view text, std::size_t at, std::string_view word) {
  if (lowercase_ascii(text.substr(at, word.size())) != word) return false;
  const std::size_t after = at + word.size();
  return after >= text.size() || !is_ascii_letter(text[after]);
}

struct Choice {
  char letter = 0;
  std::size_t begin = 0;
  std::size_t end = 0;  // one past the letter
};

struct Found {
  Choice choice;
  bool ambiguous = false;
};

struct ForeignLetter {
  std::string_view spelling;
  char letter;
  bool also_spells_words;  // Arabic and Bengali option letters are letters of words too
};

// Option letters in the scripts simple-evals maps: full-width, Arabic and Bengali.
constexpr std::array<ForeignLetter, 18> foreign_letters = {{
    {"\uff21", 'A', false},
    {"\uff22", 'B', false},
    {"\uff23", 'C', false},
    {"\uff24", 'D', false},
    {"\uff25", 'E', false},
    {"\uff26", 'F', false},
    {"\uff27", 'G', false},
    {"\uff28", 'H', false},
    {"\uff29", 'I', false},
    {"\uff2a", 'J', false},
    {"\u0623", 'A', true},
    {"\u0628", 'B', true},
    {"\u062c", 'C', true},
    {"\u062f", 'D', true},
    {"\u0985", 'A', true},
    {"\u09ac", 'B', true},
    {"\u09a1", 'C', true},
    {"\u09a2", 'D', true},
}};

// Words after "I" or "A" that make it an option ("A is correct") rather than a pronoun or an article.
bool verb_after_pronoun(std::string_view word) {
  static constexpr std::array<std::string_view, 14> verbs = {"is",      "was",     "would",   "should", "seems",
                                                             "appears", "looks",   "because", "since",  "as",
                                                             "fits",    "matches", "and",     "or"};
  for (std::string_view verb : verbs) {
    if (word == verb) return true;
  }
  return false;
}

// The lowercase word starting at `at` (empty when none).
std::string_view word_from(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size() && text[end] >= 'a' && text[end] <= 'z') ++end;
  return text.substr(at, end - at);
}

// A standalone capital option letter at `at`: not inside a word, not the pronoun "I" ("I think") or the
// article "A" ("A good choice").
std::optional<Choice> letter_at(std::string_view text, std::size_t at) {
  if (at >= text.size()) return std::nullopt;
  if (at > 0 && (is_ascii_letter(text[at - 1]) || is_digit(text[at - 1]))) return std::nullopt;
  Choice choice{0, at, at};
  if (text[at] >= 'A' && text[at] <= 'J') {
    choice = {text[at], at, at + 1};
  } else {
    for (const ForeignLetter& foreign : foreign_letters) {
      if (text.substr(at, foreign.spelling.size()) != foreign.spelling) continue;
      choice = {foreign.letter, at, at + foreign.spelling.size()};
      // another letter of the same script follows: a word, not an option
      const bool in_word =
          foreign.also_spells_words && choice.end < text.size() && is_non_ascii(text[choice.end]) &&
          (static_cast<unsigned char>(text[choice.end]) & 0xF0) == (static_cast<unsigned char>(text[at]) & 0xF0);
      if (in_word) return std::nullopt;
      return choice;
    }
    return std::nullopt;
  }
  const std::size_t after = choice.end;
  if (after < text.size() && (is_ascii_letter(text[after]) || is_digit(text[after]))) return std::nullopt;
  if (after + 1 < text.size() && text[after] == '\'' && is_ascii_letter(text[after + 1])) return std::nullopt;  // I'm
  const bool pronoun_or_article = choice.letter == 'I' || choice.letter == 'A';
  if (pronoun_or_article && after + 1 < text.size() && text[after] == ' ') {
    const std::string_view word = word_from(text, after + 1);
    if (!word.empty() && !verb_after_pronoun(word)) return std::nullopt;
  }
  return choice;
}

// Skips what an answer letter is dressed in: spaces, markdown, $, \boxed{, \text{, brackets, quotes, a colon,
// and, after an answer phrase, filler words ("option", "choice", "for sure", "definitely").
enum class Fillers { skip, keep };
std::size_t skip_dressing(std::string_view text, std::size_t at, Fillers fillers_policy = Fillers::skip) {
  static constexpr std::array<std::string_view, 18> dressings = {
      "**", "__", "$",  "\\boxed{", "\\text{", "\\textbf{", "\\mathrm{", "\\mathbf{", "(",
      "[",  "{",  "\"", "'",        "`",       ":",         "\u201c",    "\u2018",    "\uff1a"};
  static constexpr std::array<std::string_view, 10> fillers = {
      "option", "choice", "letter", "for sure", "definitely", "clearly", "probably", "likely", "indeed", "therefore"};
  while (at < text.size()) {
    if (is_space(text[at])) {
      ++at;
      continue;
    }
    bool skipped = false;
    for (std::string_view dressing : dressings) {
      if (text.substr(at, dressing.size()) == dressing) {
        at += dressing.size();
        skipped = true;
        break;
      }
    }
    for (std::size_t i = 0; !skipped && fillers_policy == Fillers::skip && i < fillers.size(); ++i) {
      if (starts_with_word(text, at, fillers[i])) {
        at += fillers[i].size();
        skipped = true;
      }
    }
    if (!skipped) return at;
  }
  return at;
}

// Whether the letters around `choice` offer a second option: "A or B", "A, B", "(A)/(C)", "A and C".
bool connector_at(std::string_view text, std::size_t at, std::size_t& after) {
  if (at < text.size() && (text[at] == ',' || text[at] == '/' || text[at] == '&')) {
    after = at + 1;
    return true;
  }
  for (std::string_view word : {std::string_view("or"), std::string_view("and")}) {
    if (starts_with_word(text, at, word)) {
      after = at + word.size();
      return true;
    }
  }
  return false;
}

bool another_choice_follows(std::string_view text, const Choice& choice) {
  std::size_t at = choice.end;
  while (at < text.size() && std::string_view(" )]}.*$\"'").find(text[at]) != npos) ++at;
  std::size_t after = 0;
  if (!connector_at(text, at, after)) return false;
  const auto next = letter_at(text, skip_dressing(text, after));
  return next && next->letter != choice.letter;
}

bool another_choice_precedes(std::string_view text, const Choice& choice) {
  std::size_t at = choice.begin;
  const auto skip_back = [&] {
    while (at > 0 && std::string_view(" ([{*$\"'").find(text[at - 1]) != npos) --at;
  };
  skip_back();
  if (at > 0 && (text[at - 1] == ',' || text[at - 1] == '/' || text[at - 1] == '&')) {
    --at;
  } else if (at >= 2 && lowercase_ascii(text.substr(at - 2, 2)) == "or") {
    at -= 2;
  } else if (at >= 3 && lowercase_ascii(text.substr(at - 3, 3)) == "and") {
    at -= 3;
  } else {
    return false;
  }
  skip_back();
  while (at > 0 && std::string_view(").").find(text[at - 1]) != npos) --at;
  if (at == 0) return false;
  const auto previous = letter_at(text, at - 1);
  return previous && previous->end == at && previous->letter != choice.letter;
}

Found judged(std::string_view text, const Choice& choice) { return {choice, another_choice_follows(text, choice)}; }

// Whether only spaces, punctuation, \quad, "and" or "or" stand between two boxes: "\boxed{A} or \boxed{B}".
bool only_box_separators(std::string_view gap) {
  std::string rest = lowercase_ascii(gap);
  for (std::string_view filler : {"and", "or", "\\quad", "}"}) {
    for (std::size_t at = rest.find(filler); at != npos; at = rest.find(filler)) rest.erase(at, filler.size());
  }
  return rest.find_first_not_of(" \t\n$,;") == npos;
}

// Tier 1: the last \boxed{X}; a box with another letter just before it makes the choice ambiguous.
std::optional<Found> boxed_choice(std::string_view text) {
  constexpr std::string_view command = "\\boxed";
  const std::size_t at = find_last(text, command);
  if (at == npos) return std::nullopt;
  const auto box_letter = [&](std::size_t start) -> std::optional<Choice> {
    std::size_t open = start + command.size();
    while (open < text.size() && is_space(text[open])) ++open;
    if (open >= text.size() || text[open] != '{') return std::nullopt;
    return letter_at(text, skip_dressing(text, open + 1));
  };
  const auto choice = box_letter(at);
  if (!choice) return std::nullopt;
  Found found = judged(text, *choice);
  const std::size_t previous = find_last(text, command, at);
  const auto previous_choice = previous == npos ? std::nullopt : box_letter(previous);
  if (previous_choice && previous_choice->letter != choice->letter) {
    const std::size_t close = text.find('}', previous_choice->end);
    if (close != npos && close < at && only_box_separators(text.substr(close + 1, at - close - 1)))
      found.ambiguous = true;
  }
  return found;
}

enum class AnchorKind {
  english_answer_word,  // "answer", "option", "choice": then a colon or "is"
  other_answer_word,    // simple-evals' multilingual answer words: then a colon or the language's "is"
  verdict,              // "correct", "right": the letter comes before ("B is correct")
};

struct Anchor {
  std::string_view word;  // lower-case
  AnchorKind kind;
};

constexpr std::array<Anchor, 25> anchors = {{
    {"answer", AnchorKind::english_answer_word},
    {"option", AnchorKind::english_answer_word},
    {"choice", AnchorKind::english_answer_word},
    {"correct", AnchorKind::verdict},
    {"right", AnchorKind::verdict},
    {"valid", AnchorKind::verdict},
    {"best", AnchorKind::verdict},
    {"\u7b54\u6848", AnchorKind::other_answer_word},
    {"\u7b54", AnchorKind::other_answer_word},
    {"respuesta", AnchorKind::other_answer_word},
    {"r\u00e9ponse", AnchorKind::other_answer_word},
    {"antwort", AnchorKind::other_answer_word},
    {"risposta", AnchorKind::other_answer_word},
    {"resposta", AnchorKind::other_answer_word},
    {"jawaban", AnchorKind::other_answer_word},
    {"\u56de\u7b54", AnchorKind::other_answer_word},
    {"\u89e3\u7b54", AnchorKind::other_answer_word},
    {"\u7b54\u3048", AnchorKind::other_answer_word},
    {"\uc815\ub2f5", AnchorKind::other_answer_word},
    {"\ub2f5", AnchorKind::other_answer_word},
    {"\u0627\u0644\u0625\u062c\u0627\u0628\u0629", AnchorKind::other_answer_word},
    {"\u0627\u0644\u062c\u0648\u0627\u0628", AnchorKind::other_answer_word},
    {"\u0989\u09a4\u09cd\u09a4\u09b0", AnchorKind::other_answer_word},
    {"\u0909\u0924\u094d\u0924\u0930", AnchorKind::other_answer_word},
    {"jibu", AnchorKind::other_answer_word},
}};

// Where the letter should start after an answer word ending at `at`: past a colon, "is", "would be" or "=";
// npos when none follows.
std::size_t after_answer_link(std::string_view text, std::size_t at, bool english) {
  while (at < text.size() && (is_space(text[at]) || text[at] == '*')) ++at;
  if (english) {
    for (std::string_view qualifier : {"choice", "option", "letter"}) {
      if (starts_with_word(text, at, qualifier)) {
        at += qualifier.size();
        while (at < text.size() && is_space(text[at])) ++at;
      }
    }
  }
  for (std::string_view link : {":", "\uff1a", "=", "\u662f", "\u4e3a"}) {
    if (text.substr(at, link.size()) == link) return at + link.size();
  }
  // "the answer is C", "la réponse est C", "la respuesta es C", "die Antwort ist C"
  static constexpr std::array<std::string_view, 4> english_verbs = {"is", "would be", "will be", "should be"};
  static constexpr std::array<std::string_view, 5> other_verbs = {"est", "es", "ist", "\u00e8", "\u00e9"};
  for (std::string_view verb :
       english ? std::span<const std::string_view>(english_verbs) : std::span<const std::string_view>(other_verbs)) {
    if (starts_with_word(text, at, verb)) return at + verb.size();
  }
  return npos;
}

// "B is correct", "(C) is the right answer": an option named before a verdict word starting at `at`.
std::optional<Choice> letter_before_verdict(std::string_view text, std::string_view lowered, std::size_t at) {
  const std::string_view before = lowered.substr(0, at);
  std::size_t subject_end = npos;
  for (std::string_view link : {" is the ", " is "}) {
    if (before.ends_with(link)) {
      subject_end = at - link.size();
      break;
    }
  }
  if (subject_end == npos) return std::nullopt;
  while (subject_end > 0 && std::string_view(" *)$\"'").find(text[subject_end - 1]) != npos) --subject_end;
  if (subject_end == 0) return std::nullopt;
  const auto choice = letter_at(text, subject_end - 1);
  if (!choice || choice->end != subject_end) return std::nullopt;
  return choice;
}

// The choice an anchor starting at `at` names, if it names one.
std::optional<Choice> anchored_choice(std::string_view text, std::string_view lowered, std::size_t at,
                                      const Anchor& anchor) {
  const std::size_t word_end = at + anchor.word.size();
  const bool ascii_word = anchor.kind != AnchorKind::other_answer_word || is_ascii_letter(anchor.word.front());
  if (ascii_word && ((at > 0 && is_ascii_letter(lowered[at - 1])) ||
                     (word_end < lowered.size() && is_ascii_letter(lowered[word_end])))) {
    return std::nullopt;  // inside a longer word ("answered", "incorrect")
  }
  if (anchor.kind == AnchorKind::verdict) return letter_before_verdict(text, lowered, at);
  const std::size_t link_end = after_answer_link(text, word_end, anchor.kind == AnchorKind::english_answer_word);
  if (link_end == npos) return std::nullopt;
  return letter_at(text, skip_dressing(text, link_end));
}

// Tier 2: the last anchor that names a letter: an answer word ("answer", "option", "choice", or another
// language's) with a letter after it, or a verdict with the letter before it ("B is correct"). Scans from
// the end, where answers are, and stops at the first.
std::optional<Found> answer_word_choice(std::string_view text) {
  static const std::array<bool, 256> starts_anchor = [] {
    std::array<bool, 256> table{};
    for (const Anchor& anchor : anchors) table[static_cast<unsigned char>(anchor.word.front())] = true;
    return table;
  }();
  const std::string lowered = lowercase_ascii(text);
  for (std::size_t at = lowered.size(); at-- > 0;) {
    if (!starts_anchor[static_cast<unsigned char>(lowered[at])]) continue;
    for (const Anchor& anchor : anchors) {
      if (std::string_view(lowered).substr(at, anchor.word.size()) != anchor.word) continue;
      if (const auto choice = anchored_choice(text, lowered, at, anchor)) return judged(text, *choice);
    }
  }
  return std::nullopt;
}

std::string_view last_line(std::string_view text) {
  text = trim(text);
  const std::size_t newline = text.rfind('\n');
  return trim(newline == npos ? text : text.substr(newline + 1));
}

// Tier 3: the final line starts with an option, names exactly one "(X)", or ends with a lone option.
std::optional<Found> final_line_choice(std::string_view text) {
  const std::string_view line = last_line(text);
  if (line.empty()) return std::nullopt;
  // Not past filler words: "Option A is wrong, so D" does not start with an answer.
  if (const auto choice = letter_at(line, skip_dressing(line, 0, Fillers::keep))) return judged(line, *choice);
  std::optional<Found> named;
  for (std::size_t open = line.find('('); open != npos; open = line.find('(', open + 1)) {
    const auto choice = letter_at(line, open + 1);
    if (!choice || choice->end >= line.size() || line[choice->end] != ')') continue;
    if (named && named->choice.letter != choice->letter) named->ambiguous = true;
    if (!named) named = Found{*choice, false};
  }
  if (named) return named;
  std::size_t end = line.size();
  while (end > 0 && std::string_view(".!*)$ ").find(line[end - 1]) != npos) --end;
  if (end == 0) return std::nullopt;
  const auto choice = letter_at(line, end - 1);
  if (!choice || choice->end != end) return std::nullopt;
  const bool standalone = end == 1 || std::string_view(" (*").find(line[end - 2]) != npos;
  if (!standalone) return std::nullopt;
  return Found{*choice, another_choice_precedes(line, *choice)};
}

// Tier 4: the last markdown-bold option, **C** or **(C)**.
std::optional<Found> bold_choice(std::string_view text) {
  std::optional<Found> last;
  for (std::size_t at = text.find("**"); at != npos; at = text.find("**", at + 2)) {
    std::size_t start = at + 2;
    if (start < text.size() && text[start] == '(') ++start;
    const auto choice = letter_at(text, start);
    if (!choice) continue;
    std::size_t close = choice->end;
    if (close < text.size() && (text[close] == ')' || text[close] == '.')) ++close;
    if (text.substr(close, 2) == "**") last = judged(text, *choice);
  }
  return last;
}

}  // namespace

std::optional<char> extract_choice_letter(std::string_view response) {
  const auto text = final_answer_text(response);
  if (!text) return std::nullopt;
  using Tier = std::optional<Found> (*)(std::string_view);
  for (Tier tier : {&boxed_choice, &answer_word_choice, &final_line_choice, &bold_choice}) {
    if (const auto found = tier(*text)) {
      if (found->ambiguous) return std::nullopt;
      return found->choice.letter;
    }
  }
  return std::nullopt;
}

}  // namespace rbench
