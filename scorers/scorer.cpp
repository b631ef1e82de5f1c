#include "scorers/scorer.h"

#include <fmt/format.h>

#include <cctype>

#include "common/error.h"
#include "scorers/math_answer.h"
#include "scorers/mc_answer.h"
#include "scorers/code_scorer.h"
#include "scorers/swebench_scorer.h"

namespace rbench {

namespace {

// A verdict for an exact-match scorer: no extraction is "no_answer", never "incorrect" with an empty guess.
Verdict exact_match_verdict(const std::optional<std::string>& extracted, bool correct) {
  Verdict verdict;
  if (!extracted) {
    verdict.verdict = "no_answer";
    return verdict;
  }
  verdict.extracted = *extracted;
  verdict.correct = correct;
  verdict.verdict = correct ? "correct" : "incorrect";
  verdict.score = correct ? 1.0 : 0.0;
  return verdict;
}

class MathScorer final : public Scorer {
 public:
  std::string name() const override { return "math"; }
  Verdict grade(const Submission& submission) const override {
    const auto extracted = extract_math_answer(submission.response);
    return exact_match_verdict(extracted, extracted && math_answers_equal(submission.gold, *extracted));
  }
};

// The gold option letter: "C" or "(C)".
char gold_choice(std::string_view gold) {
  while (!gold.empty() && std::isspace(static_cast<unsigned char>(gold.front()))) gold.remove_prefix(1);
  while (!gold.empty() && std::isspace(static_cast<unsigned char>(gold.back()))) gold.remove_suffix(1);
  if (gold.size() == 3 && gold.front() == '(' && gold.back() == ')') gold = gold.substr(1, 1);
  const char letter = gold.size() == 1 ? static_cast<char>(std::toupper(static_cast<unsigned char>(gold[0]))) : 0;
  if (letter < 'A' || letter > 'J') {
    throw UserError(fmt::format("multiple-choice gold must be one letter A-J, got '{}'", gold));
  }
  return letter;
}

class ChoiceScorer final : public Scorer {
 public:
  std::string name() const override { return "mc"; }
  Verdict grade(const Submission& submission) const override {
    const char expected = gold_choice(submission.gold);
    const auto letter = extract_choice_letter(submission.response);
    const auto extracted = letter ? std::optional<std::string>(std::string(1, *letter)) : std::nullopt;
    return exact_match_verdict(extracted, letter == expected);
  }
};

}  // namespace

Verdict Scorer::grade(std::string_view gold, std::string_view response) const {
  static const nlohmann::json no_material = nlohmann::json::object();
  return grade(Submission{gold, response, no_material});
}

std::unique_ptr<Scorer> make_scorer(std::string_view name) {
  if (name == "math") return std::make_unique<MathScorer>();
  if (name == "mc") return std::make_unique<ChoiceScorer>();
  if (name == "code") return make_code_scorer();
  if (name == "swebench") return swebench::make_swebench_scorer(swebench::options_from_environment());
  throw UserError(fmt::format("unknown scorer '{}'; known scorers: math, mc, code, swebench", name));
}

}  // namespace rbench
