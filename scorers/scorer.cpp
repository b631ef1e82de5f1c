#include "scorers/scorer.h"

#include <fmt/format.h>

#include "common/error.h"
#include "scorers/math_answer.h"

namespace rbench {

namespace {

class MathScorer final : public Scorer {
 public:
  std::string name() const override { return "math"; }
  Verdict grade(std::string_view gold, std::string_view response) const override {
    Verdict verdict;
    const auto extracted = extract_math_answer(response);
    if (!extracted) {
      verdict.verdict = "no_answer";
      return verdict;
    }
    verdict.extracted = *extracted;
    verdict.correct = math_answers_equal(gold, *extracted);
    verdict.verdict = verdict.correct ? "correct" : "incorrect";
    verdict.score = verdict.correct ? 1.0 : 0.0;
    return verdict;
  }
};

}  // namespace

std::unique_ptr<Scorer> make_scorer(std::string_view name) {
  if (name == "math") return std::make_unique<MathScorer>();
  throw UserError(fmt::format("unknown scorer '{}'; known scorers: math", name));
}

}  // namespace rbench
