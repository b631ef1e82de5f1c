// Grading throughput on one core: verdicts per second for the math and multiple-choice scorers, on a
// realistic mix. Math: integers (AIME), fractions, radicals, tuples, intervals, symbolic expressions and
// equations, right and wrong, inside responses of about 4 KB whose box comes at the end, as a reasoning
// model's final answer does. Multiple choice: responses of the same size ending in the usual answer forms.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "scorers/scorer.h"

namespace {

constexpr std::size_t response_bytes = 4096;

// Text of about `size` bytes that reads like worked reasoning, with inline math and numbers, so the
// extractor scans what it would scan in real output.
std::string worked_reasoning(std::size_t size) {
  static const std::string paragraph =
      "We first rewrite the condition as $x^2 - 5x + 6 = 0$, which factors as $(x-2)(x-3) = 0$. "
      "Substituting $x = 2$ gives $f(2) = 4 - 10 + 6 = 0$, and the derivative $f'(x) = 2x - 5$ changes sign "
      "between the roots, so the minimum lies at $x = \\frac{5}{2}$ with value $-\\frac{1}{4}$. Checking "
      "the boundary cases 1, 2 and 3 confirms the count of 12 arrangements found above.\n\n";
  std::string text;
  while (text.size() + paragraph.size() < size) text += paragraph;
  return text;
}

struct GradingCase {
  std::string gold;
  std::string response;
};

std::vector<GradingCase> math_mix() {
  const std::string reasoning = worked_reasoning(response_bytes);
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"204", "204"},
      {"033", "33"},
      {"17", "71"},
      {"\\frac{14}{3}", "\\dfrac{14}{3}"},
      {"0.75", "\\frac{3}{4}"},
      {"\\frac{3}{56}", "\\frac{3}{65}"},
      {"3\\sqrt{13}", "\\sqrt{117}"},
      {"\\frac{\\sqrt{3}}{2}", "\\sqrt3/2"},
      {"2\\sqrt{2}", "\\sqrt{6}"},
      {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"},
      {"(6,31,-1)", "(6, 31, -1)"},
      {"[-2, 7]", "(-2, 7]"},
      {"(-\\infty, -3] \\cup [2, \\infty)", "(-\\infty,-3]\\cup[2,\\infty)"},
      {"\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}"},
      {"e^{16}-1", "-1+e^{16}"},
      {"x^2+2x+1", "(x+1)^2"},
      {"2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}"},
      {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}"},
      {"\\begin{pmatrix} 3 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}3\\\\2\\end{pmatrix}"},
      {"\\text{Evelyn}", "\\text{Evelyn}"},
  };
  std::vector<GradingCase> cases;
  for (const auto& [gold, predicted] : answers) {
    cases.push_back({gold, reasoning + "Therefore the answer is $\\boxed{" + predicted + "}$."});
  }
  return cases;
}

std::vector<GradingCase> choice_mix() {
  const std::string reasoning = worked_reasoning(response_bytes);
  return {
      {"B", reasoning + "Answer: B"},
      {"C", reasoning + "**Answer:** (C)"},
      {"D", reasoning + "The correct answer is $\\boxed{D}$."},
      {"A", reasoning + "The best answer is: (B)"},
      {"C", reasoning + "答案：C"},
      {"J", reasoning + "So the answer is option J."},
      {"A", reasoning + "Answer: A or B"},
      {"E", reasoning + "After weighing the options:\n(E)"},
  };
}

void grade_cycle(benchmark::State& state, const char* scorer_name, const std::vector<GradingCase>& cases) {
  const auto scorer = rbench::make_scorer(scorer_name);
  std::size_t next = 0;
  int correct = 0;
  for (auto _ : state) {
    const GradingCase& c = cases[next];
    next = next + 1 == cases.size() ? 0 : next + 1;
    const rbench::Verdict verdict = scorer->grade(c.gold, c.response);
    correct += verdict.correct ? 1 : 0;
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["correct_share"] =
      benchmark::Counter(static_cast<double>(correct) / static_cast<double>(state.iterations()));
}

void BM_GradeMath(benchmark::State& state) { grade_cycle(state, "math", math_mix()); }
BENCHMARK(BM_GradeMath);

void BM_GradeMultipleChoice(benchmark::State& state) { grade_cycle(state, "mc", choice_mix()); }
BENCHMARK(BM_GradeMultipleChoice);

}  // namespace
