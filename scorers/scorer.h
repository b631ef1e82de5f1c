#pragma once
// A scorer grades one response against a gold answer. Scorers know nothing of backends or suites.
#include <memory>
#include <string>
#include <string_view>

namespace rbench {

struct Verdict {
  bool correct = false;
  std::string extracted;  // the answer found in the response ("" when none)
  std::string verdict;    // "correct" | "incorrect" | "no_answer"
  double score = 0.0;     // 1.0 or 0.0 for exact-match scorers
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual std::string name() const = 0;
  // `response` is the final answer text (reasoning already removed).
  virtual Verdict grade(std::string_view gold, std::string_view response) const = 0;
};

// "math" or "mc"; throws UserError for an unknown name.
std::unique_ptr<Scorer> make_scorer(std::string_view name);

}  // namespace rbench
