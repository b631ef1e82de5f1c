#pragma once
// A small LaTeX-to-GiNaC parser and the value checks built on it.
//
// The parser reads the LaTeX of answers: numbers (exact: 0.25 is 1/4), variables (x, x_1, \alpha), + - * / ^,
// implicit multiplication (2\sqrt{2}, 3x(x+1)), \frac, \sqrt[n]{}, \binom, \pi, e, i, \infty, \exp, \ln, \log_b,
// trigonometric functions, \cdot, \times, \div, |x|, n!, scientific notation (1.5e3) and plain-text spellings
// (sqrt(2), exp(16), pi). Anything else (words, unknown commands, subscripted numbers such as 204_5) is not an
// expression: the caller then compares text.
//
// Every verdict is fast and bounded: inputs over max_expression_length characters are refused, nesting is
// limited, and exact powers whose result would exceed a few thousand digits (10^{10^{10}}) are refused.
//
// GiNaC stays behind this header: it is not thread-safe (its reference counts are not atomic), so every entry
// point holds one process-wide lock while GiNaC objects live.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rbench {

inline constexpr std::size_t max_expression_length = 400;

// How two expressions must relate to count as the same answer.
enum class Agreement {
  equal,                    // a = b
  proportional,             // a = r·b, r a nonzero constant: the sides of equations (2x-4 = 0 and x-2 = 0)
  positively_proportional,  // a = r·b, r > 0: the sides of inequalities keep their direction
};

// Whether the LaTeX expressions `a` and `b` relate as `agreement` asks; nullopt when either is not an
// expression this parser reads. Checked exactly first (GiNaC simplification), then numerically: constants at
// GiNaC's working precision, expressions with free variables at several fixed pseudo-random points.
std::optional<bool> latex_expressions_agree(std::string_view a, std::string_view b,
                                            Agreement agreement = Agreement::equal);

// GiNaC's printed form of the parsed expression ("1/2*x"), or nullopt; for tests and debugging.
std::optional<std::string> latex_to_ginac_text(std::string_view latex);

}  // namespace rbench
