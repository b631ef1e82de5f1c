// A corpus of hard math-grading cases gathered from the known failure reports and regression tests of the
// best graders (sources pinned in ../shared/GRADING_NOTES.md §0):
//   MV   huggingface/Math-Verify tests/test_all.py, tests/test_yujianll.py, tests/test_mixed_number_extraction.py
//        and the observed behaviour in GRADING_NOTES §1.5
//   LV   huggingface/lighteval tests/unit/metrics/test_extractive_match.py
//   HM   hendrycks/math modeling/math_equivalence_test.py
//   QW   QwenLM/Qwen2.5-Math evaluation/grader.py (_test_math_equal)
//   SE   openai/simple-evals common.py EQUALITY_TEMPLATE examples
//   PRM  openai/prm800k grading/grader.py rules
//   R1   DeepSeek-R1 output format (<think>, boxed answers)
//   M500 answers and solutions from MATH-500
// Long model outputs are abridged to the part that decides the case. Where rbench deliberately differs from
// the source's verdict the reason says "differs:".
// Every case runs through the scorer as `rbench grade --scorer math` does: extraction from `response`, then
// equivalence with `gold`.
#include <gtest/gtest.h>

#include <chrono>
#include <string_view>
#include <vector>

#include "scorers/scorer.h"

namespace rbench {
namespace {

struct Case {
  std::string_view gold;
  std::string_view response;
  bool equal;
  std::string_view reason;
};

// clang-format off
const std::vector<Case>& corpus() {
  static const std::vector<Case> cases = {
      // ---- numbers: separators, decimals, currency (MV test_number_extraction, LV) ----
      {"-5", "-5", true, "MV: negative number"},
      {"7425000", "7,425,000", true, "MV: comma thousands"},
      {"1000", "1 000", true, "MV: space thousands"},
      {"1000", "1000.0", true, "MV: trailing .0"},
      {"1000.0", "1,000.0", true, "MV: thousands with decimals"},
      {"0.4", ".4", true, "MV/HM: leading point"},
      {"1000.99", "1,000.99", true, "MV: decimals with thousands"},
      {"1000.99", "$1,000.99", true, "MV: currency prefix"},
      {"1000.99", "1,000.99$", true, "MV: currency suffix"},
      {"1000.99", "the number is not 10 which is 1,000.99€", true, "MV: last number after prose"},
      {"1000.99", "so the number is 10 which is 1,000.99m²", true, "MV: unit glued to the number"},
      {"2", "AZYUK2A", false, "MV: digit inside a word is no answer"},
      {"12000023", R"(For 12,000,003, the remainder is $12,\!000,\!003 \mod 7 = 5$. Final Answer: The final answer is 12,000,023. I hope it is correct. <|im_start|>user)", true, "MV issue 8: large number with commas (abridged)"},
      {"16386.20", R"(Paula's investment is worth $\boxed{\$16,\!386.20}$ at the end of the 5-year period.)", true, "MV issue 6: \\! thousands and \\$ inside the box"},
      {"16386.17", R"(Rounded to the nearest cent, Paula's investment is worth $\boxed{\$16386.17}$ after 5 years.)", true, "MV issue 13: dollars in the box"},
      {"10455", R"(So after six months in the second CD, Dr. Zaius has $10,200 + $255 = $10,455. Final Answer: The final answer is $10,455$. I hope it is correct.)", true, "MV: Minerva phrase with a thousands comma"},
      {"11111111100", R"(is $\boxed{11,\! 111,\! 111,\! 100}$)", true, "MV: \\! separators with spaces"},
      {"32349", R"(is $\boxed{32,\! 349}$)", true, "MV: \\! separator"},
      {"32349", R"(is $\boxed{32, 349}$)", false, "MV: comma and space is a list, not a thousands separator"},
      {"14916", R"(Therefore, $\boxed{14{,}916}$ is our answer.)", true, "MV: {,} separator"},
      {"14916", R"(Thus, the smallest possible value of $N$ is $14{,}940$. Final Answer: The final answer is $14{,}916$. I hope it is correct.)", true, "MV: Minerva phrase wins over an earlier number"},
      {"5866608", R"(So, the sum of the integers on Camy's list is $\boxed{5866608}$. Final Answer: The final answer is 5866608. I hope it is correct.)", true, "MV: large integer"},
      {"7.78", R"($\frac{70}{9} \approx 7.78$ So, Anna pays approximately $7.78 for her fudge. Final Answer: The final answer is 7.78.)", true, "MV: final answer without 'I hope'"},
      {"16386.16", R"(So, Paula's investment is worth approximately $\boxed{16386.16}$ dollars at the end of the 5 years. Final Answer: The final answer is 16386.16.)", true, "MV: decimal answer"},
      {"10/9", R"(\frac{10}{9})", true, "MV: slash fraction vs \\frac"},
      {"-10/9", R"(-\frac{10}{9})", true, "MV: negative fraction"},
      {"0.5", R"(\frac{1}{2})", true, "HM: 0.5 is 1/2"},
      {"1/2", R"(\frac{1}{2})", true, "HM test_half"},
      {"-3/4", "-0.75", true, "decimal vs negative fraction"},
      {"16", "016", true, "AIME leading zeros"},
      {"33", R"(\boxed{033})", true, "MV observed: AIME leading zero in a box"},
      {"204", R"(The answer is \boxed{204}.)", true, "AIME three digits"},
      {"25", "the answer is 025", true, "AIME leading zero after a phrase"},
      {"16", "61", false, "digits swapped"},
      {"1000000", "1000001", false, "integers never match approximately"},
      {"3", "2.9999999", false, "PRM: an integer answer must be exact"},
      {"1500", R"(1.5\times 10^{3})", true, "MV observed: scientific notation with \\times"},
      {"1500", "1.5e3", true, "differs: MV reads e as Euler's number; rbench reads 1.5e3 as scientific notation"},
      {"0.00002", "2E-5", true, "scientific notation with a negative exponent"},

      // ---- fractions and exact values vs decimals ----
      {R"(\frac{1}{12})", "0.0833333333333333", true, "QW/MV: decimal expansion of 1/12"},
      {R"(\frac{1}{3})", "0.333", false, "three digits do not make 1/3 (MV at precision 6)"},
      {R"(\frac{1}{3})", "0.3333333333", true, "ten digits do"},
      {"5.51", R"(\frac{11}{2})", false, "QW: 5.51 is not 5.5"},
      {"16.0", "16", true, "QW: $16.0$ vs 16"},
      {R"(\frac{100}{3})", "33.3", false, "QW: rounding to one place is not the value"},
      {R"(\frac{\pi}{2})", "1.570796", true, "MV observed: six decimals of pi/2"},
      {R"(\frac{\pi}{2})", "1.5708", false, "MV observed: four decimals are not enough at 1e-6"},
      {"3.14159265", R"(\pi)", true, "pi to eight decimals"},
      {R"(\frac{\pi}{2})", R"(90^\circ)", false, "MV observed: radians are not degrees"},
      {"8/46", R"(\frac{4}{23})", true, "LV: unreduced fraction as gold"},
      {R"(\frac{9.5}{3.14159})", R"($\frac{9.5}{3.14159} \approx 3.01$)", true, "LV: approximation after the exact value"},
      {R"(\tfrac83)", R"(\frac{8}{3})", true, "HM test_tfrac"},
      {R"(\frac34i)", R"(\frac{3}{4}i)", true, "HM test_frac: unbraced \\frac with i"},
      {R"(\tfrac{1}{2} + \frac1{72})", R"(\\dfrac{1}{2} +\frac{1}{72})", true, "HM test_dfrac: doubled backslash"},
      {R"(\tfrac{1}{2} + \frac1{72})", R"(\\frac{1}{2} + 2/3)", false, "HM test_fractions"},
      {"1/3", R"($\frac13 $)", true, "MV: \\frac13"},
      {"1", R"($\frac3{3} $)", true, "MV: \\frac3{3}"},
      {"1/3", R"($\cfrac{1}{3} $)", true, "MV: \\cfrac"},
      {"1/3", R"($\dfrac{1}{3} $)", true, "MV: \\dfrac"},
      {"1/3", R"($\tfrac{1}{3} $)", true, "MV: \\tfrac"},
      {"1/3", "$ 1/3 $", true, "MV: slash fraction in math mode"},
      {R"(\frac{639}{40})", R"($d = 15\frac{975}{1000} = \boxed{15\frac{39}{40}},$ or $\boxed{\frac{639}{40}}$ inches.)", true, "M500 number_theory/459: boxes joined by 'or' are two forms of one answer"},
      {R"(1\frac{4}{5})", R"(\frac{9}{5})", true, "M500 geometry/826: LaTeX mixed number"},
      {R"(137 \frac{1}{2})", "137.5", true, "M500 algebra/2470: spaced mixed number"},
      {"40/9", "The answer is 4 4/9.", true, "MV test_mixed_number: mixed number in prose"},
      {"4", "The answer is 4 4/9.", false, "MV test_mixed_number: not only the whole part"},
      {"103/9", "11 + 4/9", true, "MV test_mixed_number: explicit sum"},
      {R"(\frac{2}{3})", R"(2\frac{\sqrt{3}}{3})", false, "a radical fraction after a digit is a product, not a mixed number"},

      // ---- radicals, powers, constants ----
      {R"(2\sqrt{2})", R"(\sqrt{8})", true, "MV observed: radical simplification"},
      {R"(\frac{\sqrt{3}}{2})", R"(\sqrt3/2)", true, "radical over two ways"},
      {R"(e^{16}-1)", "-1+exp(16)", true, "exponential in LaTeX and plain text"},
      {R"(\sqrt{3})", R"($\sqrt3 $)", true, "MV: malformed \\sqrt3"},
      {R"(10\sqrt{3} + \sqrt4)", R"(10\sqrt3 + \sqrt{4})", true, "HM test_sqrt"},
      {R"(\sqrt{2}+\sqrt{5})", R"(The answer is $\boxed{\sqrt 2+\sqrt 5}$)", true, "MV: \\sqrt with a space"},
      {R"(\frac{9}{4}\pi)", R"(Therefore $\boxed{\frac94\pi}$.)", true, "MV: \\frac94\\pi"},
      {R"(3\sqrt{13})", R"($\sqrt{117} = \boxed{3\sqrt{13}}$)", true, "MV: boxed radical"},
      {"4", R"($4\sqrt{2}$)", false, "MV issue 41: sqrt precision"},
      {R"(1\sqrt{19})", "1", false, "MV qwen cases"},
      {"2", R"($\frac{1+\sqrt{5}}{2}$)", false, "MV qwen cases"},
      {"4", R"($\frac{34}{16}+\frac{\sqrt{1358}}{16}$)", false, "MV qwen cases"},
      {"4.123105625617661", R"($\sqrt{17}$)", true, "MV test_float_precision: sqrt(17) to 15 decimals"},
      {R"(\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{15+2\sqrt{33}})", R"(\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{2\sqrt{33}+15})", true, "MV qwen: order invariance in nested radicals"},
      {R"(\frac{5\sqrt{42}}{27})", R"(Final Answer: The final answer is $\frac{10\sqrt{10.5}}{27}$. I hope it is)", true, "MV issue 12 (sympy could not): sqrt(10.5) = sqrt(42)/2"},
      {R"(\sqrt[3]{-8})", "-2", true, "odd root of a negative number is real"},
      {R"(2^{10})", "1024", true, "power"},
      {"1024", "2^10", true, "unbraced multi-digit exponent read as its writer means"},
      {"2", R"($2^{10}.$)", false, "MV trailing punctuation: not the base"},
      {R"(\log_2 8)", "3", true, "logarithm with a base"},
      {R"(\ln e^2)", "2", true, "natural logarithm"},
      {R"(2^{2024}+\sqrt{2})", R"(2^{2024}+\sqrt{3})", false, "huge equal parts must not hide a different remainder"},
      {R"(2^{2024})", R"(2^{2024})", true, "huge exact power, identical"},
      {R"(10^{10^{10}})", R"(10^{10^{10}})", true, "guard: refused by the parser, equal as text, and fast"},
      {"5", R"(10^{10^{10}})", false, "guard: an exponent tower is refused, never evaluated"},
      {"120", "5!", true, "factorial"},
      {"120", R"(\binom{10}{3})", true, "binomial coefficient"},
      {R"(\tan^2(y)+1)", R"(\sec^2(y))", true, "MV/QW: trigonometric identity"},
      {R"(2 \sin b \cos a)", R"(By sum-to-product, \[\sin (a + b) - \sin (a - b) = \boxed{2 \sin b \cos a}.\])", true, "MV: product of functions"},
      {R"(\frac{\pi r}{h+r})", R"(The answer is $\boxed{\frac{\pi r}{h+r}}$.)", true, "MV: pi times a variable"},
      {R"(\frac{1}{3\sqrt[3]{x}^2})", R"(\frac{1}{3x^{2/3}})", true, "MV/QW: cube root vs fractional power"},
      {R"(1 - \frac{1}{\mathrm{e}})", R"($1 - \frac{1}{\mathrm{e}}$)", true, "MV yujianll: \\mathrm{e}"},
      {R"(1 - \frac{1}{\mathrm{e}})", R"($1 + \frac{1}{\mathrm{e}}$)", false, "differs: MV yujianll asserts these equal, which is wrong"},

      // ---- algebraic expressions ----
      {R"(\frac{x+2}{7})", R"(\frac{x}{7}+\frac{2}{7})", true, "MV/QW: split fraction"},
      {"2x+3", "3+2x", true, "SE: commutativity"},
      {"3/2", "1.5", true, "SE: fraction vs decimal"},
      {"x^2+2x+1", "y^2+2y+1", false, "SE: different variable"},
      {"x^2+2x+1", "(x+1)^2", true, "SE: factored form"},
      {"2/(-3)", "-2/3", true, "SE: sign placement"},
      {"3245/5", "649", true, "differs: SE's judge is told not to simplify; equal values are equal here"},
      {R"(\left(x-2\right)\left(x+2\right))", "(x-2)(x+2)", true, "HM test_parentheses"},
      {"(x-2)(x+2)", "x^2-4", true, "difference of squares"},
      {"3s^2", "3*s**2", false, "differs: QW accepts Python's **; rbench reads LaTeX only"},
      {"7*(x - 3)*(x + 3)", "7(x+3)(x-3)", true, "QW: implicit multiplication"},
      {"2x(15x^2-4x+10)", "30x^3-8x^2+20x", true, "QW (difficult): expansion"},
      {"2-2p", R"(Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. Thus $x-p=\boxed{2-2p}$.)", true, "MV: boxed expression after assignments"},
      {"(a+5)(b+2)", "(+5)(b+2)", false, "MV qwen: dropped term"},
      {"x+2n+1", "x+1", false, "MV qwen: dropped term"},
      {"|x-2|", "|2-x|", true, "absolute value"},
      {"3+4i", "4i+3", true, "complex number"},
      {"6+9.2i", "6+9.1i", false, "QW: different imaginary part"},
      {"10 - 10i^2", "20", true, "QW (difficult): i squared"},

      // ---- units, degrees, percent, dollars, text ----
      {R"(10\text{ units})", "10 ", true, "HM test_units"},
      {R"(10\text{ units})", "100 ", false, "HM test_units2"},
      {"10", R"(\$10)", true, "HM test_dollars"},
      {R"(15\mbox{ cm}^2)", R"(Therefore, the area of the triangle is $$\frac{1}{2}\times 3 \times 10 = \boxed{15\mbox{ cm}^2}.$$)", true, "MV: \\mbox unit with a power"},
      {"125 miles", R"(The distance is $\boxed{125\textnormal{ miles}}.$)", true, "MV: \\textnormal unit"},
      {"1/3", R"($\frac{1}{3} \text{meters}$)", true, "MV: \\text unit"},
      {"1/3", R"($\frac{1}{3} \textbf{meters}$)", true, "MV: \\textbf unit"},
      {"189", R"(Thus, the area of the trapezoid is \(\boxed{189}\) square centimeters.)", true, "MV: unit words after the box"},
      {"5", R"($5 \text{ cm}.$)", true, "MV trailing punctuation: unit and period"},
      {"64", "64 square feet", true, "SE: benefit of the doubt to units"},
      {"72", "72 degrees", true, "SE: degrees"},
      {R"(90^\circ)", R"(Hence, the angle between the lines is $\boxed{90^\circ}.$)", true, "MV: degrees"},
      {R"(90^\circ)", "90", true, "MV observed: degrees dropped"},
      {"30", "30°", true, "degree sign"},
      {R"(28\%)", "28 percent", true, "MV: percent word"},
      {R"(28\%)", "28 pct", true, "MV: pct"},
      {R"(28\%)", "28 %", true, "MV: spaced percent sign"},
      {R"(28\%)", "$28$ %", true, "MV: percent after math"},
      {R"(28\%)", R"($\boxed{28 percent}$)", true, "MV: percent inside the box"},
      {R"(28\%)", R"($\boxed{28 percentage}$)", true, "MV: percentage inside the box"},
      {R"(28\%)", "28", true, "MV: number without its percent sign"},
      {"0.28", "28", false, "MV: no percent anywhere"},
      {"28/100", "28", false, "MV: a fraction is not a percentage"},
      {"28", "28/100", false, "MV: a fraction is not a percentage"},
      {R"(\frac{28}{100})", "28", false, "MV: percent"},
      {R"(10\%)", "0.1", true, "MV observed: percent as a fraction"},
      {R"(10\%)", "10", true, "HM test_percentage (MV says no; rbench is lenient like HM and QW)"},
      {R"(20\%)", R"(... = \frac{1}{5} \times 100\% = \boxed{20\%}$$ Final Answer: The final answer is $20\%$. I hope it is correct.)", true, "MV: percentage handling"},
      {"100", R"(Therefore, the minimum error in the measurement of the position increases by 100%.)", true, "MV: percent in prose"},
      {"20", R"(making for a total loss of $\boxed{20\%}$.)", true, "MV issue 14: percent on the prediction"},
      {R"(\text{Evelyn})", R"(Therefore, $\boxed{\text{Evelyn}}$ is our answer.)", true, "MV: text answer"},
      {"Monday", R"(\boxed{\text{Monday}})", true, "text answer in a box"},
      {"Monday", R"(\boxed{\text{Tuesday}})", false, "different text answers"},
      {R"(\text{(C)})", "C", true, "choice letter in \\text and parentheses"},
      {R"(\text{C})", R"($\boxed{\text{(C)}}.$)", true, "MV: boxed choice"},
      {R"(\text{E})", "$E$", true, "MV: \\text{E} vs E"},
      {R"(\text{13})", "13", true, "differs: MV issue 37 keeps \\text{13} as text; its digits are the number"},
      {"12:00", "$12:00$", true, "MV yujianll: time"},
      {"12:00", "$1:00$", false, "MV yujianll: different time"},
      {"204_5", R"(for a quotient of $\boxed{204_5}$.)", true, "MV: base-5 number"},
      {"1112112_3", R"(Thus, the product is \(\boxed{1112122_3}\).)", false, "MV: different base-3 number"},

      // ---- tuples, intervals, sets, lists ----
      {"(1,2)", "(2,1)", false, "MV observed: tuples are ordered"},
      {R"(\{1,2\})", R"(\{2,1\})", true, "MV observed: sets are not"},
      {"[1,2]", "(1,2)", false, "MV observed: closed vs open interval"},
      {"[0,1)", "$[0,1)$", true, "MV: half-open interval"},
      {"[0,9)", "$[0,1)$", false, "MV: different endpoint"},
      {"(0,9)", "$[0,9)$", false, "MV: different bracket"},
      {"1", "$-[0,1)$", false, "MV: negated interval"},
      {R"((1,\frac{9}{2}))", "(1,4.5)", true, "QW/MV: point with a decimal"},
      {R"((-\sqrt{3},\sqrt{3}))", "(-1.732, 1.732)", false, "QW: three decimals are not sqrt(3) at 1e-6"},
      {R"((3, \frac{\pi}{2}))", R"(Therefore, the polar coordinates are $\boxed{\left( 3, \frac{\pi}{2} \right)}.$)", true, "MV/M500: polar point with \\left("},
      {"(6,31,-1)", R"(Then solving the system of equations, we find $(p,q,r) = \boxed{(6,31,-1)}.$)", true, "MV: triple"},
      {R"(\left(\frac{1}{5},\frac{1}{6}\right))", R"(Thus, $(p,q) = \boxed{\left( \frac{1}{5}, \frac{1}{6} \right)}.$ Final Answer: The final answer is $\left( \frac{1}{5}, \frac{1}{6} \right)$. I hope it is correct. <|im_start|>user)", true, "MV issue 10: pair of fractions"},
      {R"(\left( \frac{4}{3}, -\frac{1}{3} \right))", R"(Thus, $(t,u) = \boxed{\left( \frac{4}{3}, -\frac{1}{3} \right)}.$)", true, "MV: interval swapping"},
      {R"((\tfrac{27}{8},\tfrac{15}{8}))", R"(Therefore, the point where the line intersects is $\boxed{(0, 0)}$. Final Answer: The final answer is $(0, 0)$. I hope it is correct.)", false, "MV: correctly extracted wrong point"},
      {"(3,1)", "${1,3}$", false, "MV: braces in the wrong order"},
      {"(1,3)", "${1,3}$", true, "MV: braces in the gold's order"},
      {"(-6, 10)", R"(The solution to the inequality is \( x \in (-6, 10) \). Final Answer: The final answer is \((-6, 10)\). I hope it is correct.)", true, "MV: membership before the interval"},
      {"[0,1)", R"(Combining these conditions, the domain of $q(x)$ is the interval $(0, 1)$. Final Answer: The final answer is $(0, 1)$. I hope it is correct. <|im_start|>user)", false, "MV issue 4: correctly extracted wrong interval"},
      {"[-3,2]", R"(Therefore, the domain is $\boxed{[-3, 2]}$. I apologize for the mistake. Therefore, the domain is $\boxed{(-\infty, -3] \cup [2, \infty)}$. Final Answer: The final answer is $(-\infty, -3] \cup [2, \infty)$. I hope it is correct.)", false, "MV issue 5: the last box wins"},
      {"[-4,0]", R"(Thus, the values of \( k \) for which the quadratic has real roots are: \[ \boxed{[-4, 0]} \])", true, "MV: interval in display math"},
      {R"((2, 12) \cup (12, 102))", R"(Thus, the answer is $x \in \boxed{(2,12) \cup (12,102)}$)", true, "MV: union of intervals"},
      {R"([-1, -\frac{1}{2}) \cup (-\frac{1}{2}, 0) \cup (0, 1) \cup (1, \infty))", R"(The solution set is $\boxed{[-1, -\tfrac12) \cup (-\tfrac12, 0) \cup (0, 1) \cup (1, \infty)}.$)", true, "MV: union with infinity"},
      {R"((0,1) \cup (2,3))", R"((2,3) \cup (0,1))", true, "union pieces in any order"},
      {R"(\{-1\} \cup [0,7))", R"(x \in \boxed{\{-1\} \cup [0,7)}.$)", true, "MV: set united with an interval"},
      {R"((-\infty, 5])", R"((-\infty, 5))", false, "closed vs open end at 5"},
      {"(0.6,2.6667]", R"((\frac{3}{5},\frac{8}{3}])", false, "differs: MV matches at 2 decimals (config); rbench needs 1e-6"},
      {"-2,1", R"(Checking, we find that the only integer roots are $\boxed{-2,1}.$)", true, "MV: list of roots"},
      {"1, 2", "2, 1", true, "lists of solutions are unordered"},
      {"10, 4, -2", "4, 10, -2", true, "differs: HM test_order treats lists as ordered; rbench treats them as solution sets"},
      {"10, 4, 2", "4, 12, 2", false, "HM test_order2"},
      {"0.1, 4, 2", "4, .1, 2", true, "differs: HM test_decimals (order); values match as a set"},
      {"1, 2, 3", "1, 2, 3, ...", false, "MV trailing punctuation: an ellipsis is no period"},
      {"(1,2)", "$(1,2).$", true, "MV trailing punctuation"},
      {R"(\frac{1}{3})", R"($\frac{1}{3},$)", true, "MV trailing punctuation: comma"},
      {R"(\frac{1}{3})", R"(\[\frac{1}{3}.\])", true, "MV trailing punctuation: display math"},
      {R"(1 \pm \sqrt{19})", R"(By the quadratic formula, $x = \boxed{1 \pm \sqrt{19}}.$)", true, "MV: plus-minus"},
      {R"(3 \pm 2 \sqrt{2})", R"(the roots are $x = \boxed{3 \pm 2 \sqrt{2}}.$)", true, "MV: plus-minus with a product"},
      {R"(1 \pm \sqrt{19})", R"(1 + \sqrt{19}, 1 - \sqrt{19})", true, "plus-minus as two solutions"},
      {R"(\{1\pm\sqrt{5},-2\})", R"(so the answer is $\boxed{\{1\pm\sqrt{5},-2\}}.$)", true, "MV: plus-minus inside a set"},
      {R"(\pm 2021)", "$2021$", false, "MV yujianll: one of two solutions"},
      {R"(\pm 2021)", "${-2021, 2021}$", true, "MV yujianll: both solutions"},
      {"n=1, 2, 3", "$n=1, 2, 3$", true, "MV yujianll"},
      {"n=2, 3, 4", "$n=1, 2, 3$", false, "MV yujianll"},
      {"19, 46, and 82", R"($19, 46, \text{ and } 82$)", true, "MV yujianll: 'and' in a list"},
      {"19, 46, and 82", "$21, 36, and 82$", false, "MV yujianll"},
      {R"(12\text{ and }13)", R"(between $\boxed{12 $ and $13 }. $ Final Answer: The final answer is "$12 $ and $13 $". I hope it is correct.)", true, "MV: 'and' across math spans in a box"},
      {"1,-2", R"(**Final Answer** The integers are \boxed{-2} and \boxed{1}. </think> Thus, the integers \( n \) such that \( f(n) = n \) are: \[ \boxed{-2} \quad \text{and} \quad \boxed{1}. \])", true, "MV R1 case: boxes joined by 'and' after </think>"},
      {"1,2", R"($\boxed{1}\boxed{2}$)", true, "MV: adjacent boxes form a list"},
      {"2", R"(\boxed{1} no no no no no \boxed{2})", true, "MV open_thoughts: only the last box when words separate them"},
      {"3", R"(\boxed{2} then \boxed{3})", true, "differs: MV joins every box into {2,3}; rbench takes the last"},
      {R"(\emptyset)", R"(\varnothing)", true, "empty set spellings"},

      // ---- matrices ----
      {R"(\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix})", R"(The identity matrix is $ \begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} $.)", true, "MV: identity matrix"},
      {R"(\begin{bmatrix}0 & 0 \\0 & 0\end{bmatrix})", R"(Here is a zero matrix: $ \begin{pmatrix}0 & 0 \\0 & 0\end{pmatrix} $)", true, "MV: bmatrix vs pmatrix"},
      {R"(\begin{pmatrix}1 & 2 \\3 & 4\end{pmatrix})", R"(Special matrix: $ \left[\begin{array}{cc}1 & 2 \\3 & 4\end{array}\right] $)", true, "MV: array in brackets"},
      {R"(\begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix})", R"(Matrix with fractions: $ \begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix} $)", true, "MV: fraction entries"},
      {R"(\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix})", R"(The matrix is $\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix}$)", false, "MV: one entry differs"},
      {R"(\begin{pmatrix} 0 & 3 \\ 0 & -1 \end{pmatrix})", "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.\n\\end{align*}", true, "MV: matrix in a multi-line box"},
      {R"(\begin{pmatrix}-\frac{7}{4}&-2\\4&\frac{1}{4}\end{pmatrix})", R"((\begin{pmatrix}-\frac{7}{4}&-2\\4&\frac{1}{4}\\\end{pmatrix}))", true, "QW: parenthesised matrix with a trailing row break"},
      {R"(\begin{pmatrix}\frac{1}{3\sqrt[3]{x}^2}&0&0\\0&1&0\\-\sin(x)&0&0\end{pmatrix})", R"(\begin{pmatrix}\frac{1}{3x^{2/3}}&0&0\\0&1&0\\-\sin(x)&0&0\end{pmatrix})", true, "MV/QW: symbolic matrix entries"},
      {R"(\begin{pmatrix} -10 \\ 6 \end{pmatrix})", R"(\begin{pmatrix}-10\\6\end{pmatrix})", true, "QW: spacing in a vector"},
      {R"(\begin{pmatrix} 3 \\ 2 \end{pmatrix})", "(3,2)", true, "a column vector written as a tuple"},
      {R"(\begin{pmatrix} 3 \\ 2 \end{pmatrix})", "(2,3)", false, "vector entries in the wrong order"},
      {R"(\begin{pmatrix} 1 & 2 \end{pmatrix})", R"(\begin{pmatrix} 1 \\ 2 \end{pmatrix})", false, "row and column vectors differ as matrices"},

      // ---- relations: equations, assignments, inequalities ----
      {"x >= 5", R"(Therefore $x \geq 5$ is the solution.)", true, "MV: >= vs \\geq"},
      {"x < 3", R"(We find that $x \lt 3$.)", true, "MV: \\lt"},
      {R"(x \leq 2)", "Thus $x <= 2$ is our answer.", true, "MV: <= vs \\leq"},
      {"x > 5", R"(Therefore $x \gt 5$ is the solution.)", true, "MV: \\gt"},
      {"x != 3", R"(We find that $x \neq 3$.)", true, "MV: != vs \\neq"},
      {"x > 5", "Therefore $x < 5$ is the solution.", false, "MV: opposite inequality"},
      {R"(x \geq 5)", R"(The solution is $x \leq 5$)", false, "MV: opposite inequality"},
      {R"(x \neq 5)", "The solution is $x != 5$", true, "MV: not equal"},
      {R"(x \leq 5)", R"($5 \geq x$)", true, "MV: flipped inequality"},
      {R"(x \geq 5)", R"($5 \leq x$)", true, "MV: flipped inequality"},
      {"x > 3", "3 < x", true, "flipped strict inequality"},
      {"x < 1", "$-x > -1$", true, "MV: negated inequality"},
      {"x < 1", "$x > -1$", false, "MV: not equivalent"},
      {"x <= 1", "$-x >= -1$", true, "MV: negated non-strict inequality"},
      {"x < 1", "2x < 2", true, "scaled inequality"},
      {"x < 1", "-2x < -2", false, "scaling by a negative flips the direction"},
      {"x < 1", R"(x \le 1)", false, "strict vs non-strict"},
      {"x = 11", "$x = 5+5+1 = 7 =11$", true, "MV: chain of equalities"},
      {"7 = 11a+c", "$11a+c$", false, "MV: an equation is not its side"},
      {"x = 1/3", R"($x = 5+5+1 = 1/3 \approx 11$)", true, "MV: approximation after the value"},
      {"11", "$x=11$", true, "MV: bare number matches an assignment"},
      {"11", R"($x\approx11$)", true, "MV: approximate assignment"},
      {"1/3", R"($x=1/3\approx1.3$)", true, "MV: approximation after the value"},
      {"a +3z = 0", "$0$", false, "MV: incomplete equation"},
      {R"(1 = \zzz = x = 0)", "$0$", true, "MV: chain ending in an assignment"},
      {"2x + z = 1", "$1$", false, "MV: incomplete equation"},
      {"a^2 + b = 0", "$0$", false, "MV: incomplete equation"},
      {"k=1", "$1$", true, "MV: assignment in gold"},
      {"1", "$k=1$", true, "MV: assignment in prediction"},
      {"z = 1 + 1 = 2", "$z = 3+3 = 2$", true, "MV: chains with the same final value"},
      {"x = 3", "y = 3", false, "assignments to different variables"},
      {"y = 2x+1", "2x+1", true, "equation of a line vs its right side"},
      {"y = 2x+1", "y = 1+2x", true, "reordered equation"},
      {"2x+4y-3=0", R"($y=-\frac{1}{2}x+\frac{3}{4}$)", true, "MV: equation scaled and solved for y"},
      {"x^2/4 + y^2/3 = 1", "$x^2/16 + y^2/12 = 1/4$", true, "MV: equation normalisation"},
      {"34x+45y-20z+100=0", "-34x-45y+20z-100=0", true, "MV/QW: equation times -1"},
      {"5x - 7y + 11z + 4 = 0", "x + y - z + 2 = 0", false, "HM test_expression"},
      {"x-2y+z-1=0", R"(The equation of the plane is $$-1(x-1)+2(y-1)+1(z-1)=0\Rightarrow\boxed{x-2y+z-1=0}.$$)", true, "MV: plane equation"},
      {R"(f(2) < f(1) < f(4))", R"(Hence, $\boxed{f(2) < f(1) < f(4)}.$)", true, "MV: chain of inequalities"},
      {R"(f(2) < f(1) < f(4))", R"(f(4) > f(1) > f(2))", true, "reversed chain"},
      {R"(f(2) < f(1) < f(4))", R"(f(1) < f(2) < f(4))", false, "chain out of order"},
      {R"(-2 \le x \le 7)", R"($x \in [-2,7]$)", true, "MV set/relation asymmetry: gold inequality, predicted interval"},
      {R"(x \in [-2,7])", R"($-2 \le x \le 7$)", false, "MV set/relation asymmetry: restating a gold interval as an inequality does not count"},
      {"x > 3", R"((3, \infty))", true, "gold inequality, predicted interval"},
      {R"(x \le 5)", R"((-\infty, 5])", true, "gold inequality, predicted interval closed at 5"},
      {"D = (0, 1)", "$D = (0, 1)$", true, "MV yujianll"},
      {"D = (0, 1)", "$D = (0, 1.5)$", false, "MV yujianll"},
      {"x = 5", "The solutions is x = 5", true, "assignment after prose"},
      {R"([-2, 7])", R"($less than or equal to zero between its roots. Thus the solution in interval notation is: \[ \boxed{[-2, 7]} \]$)", true, "MV: LaTeX vs expr precedence"},
      {R"(F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1})", R"($F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}$)", false, "MV yujianll: sums differ (as text)"},

      // ---- extraction: boxes, phrases, reasoning ----
      {"42", R"(The total is \boxed{42}.)", true, "last box"},
      {"42", R"(\fbox{42})", true, "differs: MV's extraction misses \\fbox; hendrycks accepts it"},
      {"3", R"(The answer is \fbox{3})", true, "differs: MV observed false for \\fbox"},
      {R"(\frac{1}{2})", R"(so \boxed{3} or rather \boxed{\frac{1}{2}}.)", true, "the last box wins"},
      {"5", R"(first \boxed{5} then \boxed{6)", false, "an unterminated last box never credits an earlier one"},
      {"6", R"(first \boxed{5} then \boxed{6)", false, "an unterminated box is no answer"},
      {"7", R"(\boxed 7$)", true, "\\boxed with a space"},
      {R"(\{1,2\})", R"(\boxed{\{1,2\}})", true, "escaped braces inside a box"},
      {"28", R"(Final Answer: The final answer is $28 \%$. I hope it is correct. Note: The solution provided is incorrect.)", true, "MV: Minerva phrase with a percent"},
      {"12", R"(There are 12 distinct arithmetic sequences that meet the three given conditions. I hope it is correct. <|im_start|>user)", true, "MV issue 2: last number after prose"},
      {"2/3", R"(P(A) = (1/2) * (4/3) P(A) = 2/3 Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user)", true, "MV issue 1: rational after prose"},
      {"(7,6)", R"(So, the ordered pair $(x, y)$ that solves the system is $(7, 6)$. <|im_start|>user)", true, "MV issue 3: the last math span"},
      {"120", R"(Therefore, the volume of rectangular prism $ABCDEFGH$ is $5 \times 6 \times 4 = 120$. Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.)", true, "MV issue 7: answer after 'is'"},
      {"3", R"(So, Jane started growing Sphere 3 hours ago. Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct. <|im_start|>user)", true, "MV: number in a final-answer sentence"},
      {"19", R"(So, the total number of points in the domain is $1 + 2 \times 9 = 1 + 18 = 19$ points. Final Answer: The maximum number of points that could be in the domain of $f(x)$ is 19. <|im_start|>user)", true, "MV: answer after 'is'"},
      {"34", "Final Answer: The largest $n$ is 34.", true, "MV: 'Final Answer' without 'final answer is'"},
      {"9", R"(Answer \[ 9 \])", true, "MV: display math after Answer"},
      {"9", "Answer $ 9 $", true, "MV: inline math after Answer"},
      {"9", "Answer $$ 9 $$", true, "MV: $$ after Answer"},
      {"9", R"(Answer \( 9 \))", true, "MV: \\( after Answer"},
      {"10", R"(Answer \( (9+1) \))", true, "MV: parenthesised expression"},
      {"9", "Answer \\[ \n 9 \n \\]", true, "MV: block math over lines"},
      {"9", "Answer $$ \n 9 \n $$", true, "MV: $$ block over lines"},
      {"0", "So the os then when we 9/3 we get 8 so the answer is 0", true, "LV: answer phrase"},
      {"1", "so $x+y = 1000$ therefore answer is $1$", true, "LV: answer phrase with math"},
      {"105", "réponse est (35 + 70 = 105).", true, "LV: French sentence, last number"},
      {"220", "Réponse: Janeth aura encore 220 $ à payer d'ici 12 mois.", true, "LV: French, currency after the number"},
      {"70", "La réduction est de 100 * 0,30 = 30 $. Le coût final est donc de 100 - 30 = 70", true, "LV: French, last number"},
      {"13/28", "计划的比例为13/28", true, "LV: Chinese, fraction"},
      {"4000", " 地块面积 = 72000 / 18 = 4000千克", true, "LV: Chinese, number before a unit"},
      {"300", "来计算水池中水的流出时间：12000升/40升/分钟=300分钟。因此，水池中水将在300分钟内被放完。", true, "LV: Chinese, last number"},
      {"2/5", R"(所以，每份应该是 (\frac{2}{5}) 吨。 答案：每份应该是 (\frac{2}{5}) 吨。)", true, "LV: Chinese answer word"},
      {"3", "瑞秋的数学作业比阅读作业多 **3页**。", true, "LV: Chinese, bold number"},
      {"7", R"(<think>Let me compute: 3 + 4 = 7, so \boxed{8}? No.</think>The answer is $\boxed{7}$.)", true, "R1: the box after </think> counts, not one in the reasoning"},
      {"7", R"(<think>Let me compute 3 + 4. It is \boxed{7})", false, "R1: reasoning cut off before </think> has no final answer"},
      {"189", R"(So it's a right trapezoid. **Final Answer** \boxed{189} </think> Thus, the area of the trapezoid is \(\boxed{189}\) square centimeters.)", true, "MV: R1-style response"},
      {"", R"(\boxed{})", false, "empty box"},
      {"42", "I cannot decide.", false, "no answer"},
      {R"(\frac{14}{3})", R"($f(-2)+f(-1)+f(0)=\frac{-8}{-4}+\frac{-5}{-3}+\frac{-2}{-2}=2+\frac{5}{3}+1=\boxed{\frac{14}{3}}$)", true, "M500 algebra/2584: box at the end of a chain"},
      {R"(\frac{3}{56})", R"(so \[p(8) = \frac{q(8) + 8}{8^2 - 1} = \boxed{\frac{3}{56}}.\])", true, "MV: M500-style solution"},
      {R"(\frac14)", R"(\boxed{\dfrac{1}{4}})", true, "M500: \\frac14 vs \\dfrac{1}{4}"},
      {R"(\text{(A)})", R"(The answer is $\boxed{\textbf{(A)}}$)", true, "\\textbf choice"},
  };
  return cases;
}
// clang-format on

TEST(MathCorpus, EveryCaseGetsTheExpectedVerdict) {
  const auto scorer = make_scorer("math");
  ASSERT_GE(corpus().size(), 200u);
  int passed = 0;
  for (const Case& c : corpus()) {
    const Verdict verdict = scorer->grade(c.gold, c.response);
    EXPECT_EQ(verdict.correct, c.equal) << c.reason << "\n  gold:      " << c.gold << "\n  response:  " << c.response
                                        << "\n  extracted: " << verdict.extracted;
    passed += verdict.correct == c.equal ? 1 : 0;
  }
  RecordProperty("cases", static_cast<int>(corpus().size()));
  RecordProperty("passed", passed);
}

// No verdict may take long, whatever the input (tower exponents, deep nesting, long responses).
TEST(MathCorpus, EveryVerdictIsFast) {
  const auto scorer = make_scorer("math");
  for (const Case& c : corpus()) {
    const auto start = std::chrono::steady_clock::now();
    scorer->grade(c.gold, c.response);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 0.05) << c.reason;
  }
}

}  // namespace
}  // namespace rbench
