#pragma once
// Math answers: extraction from a response, normalisation, and equivalence.
//
// Equivalence is structural first (tuples and intervals are ordered and keep their brackets, sets and bare
// lists of solutions are unordered, matrices compare cell by cell, equations up to a nonzero factor,
// inequalities up to a positive factor and a flip, "x = 3" against "3"), then per value through
// latex_expression (exactly, then numerically), and text (after normalisation) when a value is not an
// expression.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rbench {

// Text helpers shared by the scorers.
namespace answer_text {
std::string_view trim(std::string_view text);
std::string lowercase_ascii(std::string_view text);
// Where the last `needle` starting before `end` starts, or npos. It scans forward with find(), which skips
// ahead with memchr; libstdc++'s rfind compares at every position, which costs 4 KB responses dearly.
std::size_t find_last(std::string_view text, std::string_view needle, std::size_t end = std::string_view::npos);
}  // namespace answer_text

// The part of a response a grader reads: the text after the last </think>; nullopt when a <think> was
// opened and never closed (reasoning cut off by the token limit has no final answer). Shared by the scorers.
std::optional<std::string_view> final_answer_text(std::string_view response);

// The answer in a response, by priority:
//  1. the last \boxed{...} or \fbox{...} (braces balanced), joined with the boxes just before it when only
//     separators stand between them ("\boxed{1} and \boxed{2}" is the list 1, 2); an unterminated last box
//     means no answer, never an earlier box;
//  2. the last answer phrase: "final answer is X" (Minerva's "... I hope it is correct" included),
//     "the answer is X", "Answer: X", "答案是 X";
//  3. the whole response when it is only an answer ("\frac{1}{2}", "x = 5", "Monday");
//  4. whichever comes last of the last math span ($...$, \(...\), \[...\]) and the last number.
std::optional<std::string> extract_math_answer(std::string_view response);

// Strips LaTeX dressing that never changes the value: $ and math delimiters, \left/\right, spacing, \text{},
// \dfrac, degrees, percent, trailing units (\text{ cm}, "square feet", a unit-word list), thousands
// separators (1,234 and 10,\!000), leading zeros of integers ("016"), "and"/"or" between items, a trailing
// period, "x \in" before a set.
std::string normalize_math_answer(std::string_view answer);

// Whether `predicted` (an extracted answer) is equivalent to `gold` (a reference answer, possibly boxed).
bool math_answers_equal(std::string_view gold, std::string_view predicted);

}  // namespace rbench
