#pragma once
// Math answers: extraction from a response, normalisation, and equivalence.
#include <optional>
#include <string>
#include <string_view>

namespace rbench {

// The last \boxed{...} or \fbox{...} (braces balanced); an unterminated last box means no answer,
// never an earlier box. Without a box: the last "final answer is X" / "answer is X" / "Answer: X".
std::optional<std::string> extract_math_answer(std::string_view response);

// Strips LaTeX dressing that never changes the value: $, \left/\right, spacing, \text{}, \dfrac, degrees,
// percent, thousands separators, leading zeros of integers ("016" -> "16"), a trailing period, "x = ".
std::string normalize_math_answer(std::string_view answer);

// Equal after normalisation, or equal as exact numbers (integers, decimals, fractions).
bool math_answers_equal(std::string_view gold, std::string_view predicted);

}  // namespace rbench
