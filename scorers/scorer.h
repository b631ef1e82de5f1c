#pragma once
// A scorer grades one response against a gold answer and the problem's material (tests, repository).
// Scorers know nothing of backends or suites.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace rbench {

struct Verdict {
  bool correct = false;
  std::string extracted;  // the answer found in the response ("" when none)
  std::string verdict;    // "correct" | "incorrect" | "no_answer"
  double score = 0.0;     // 1.0 or 0.0 for exact-match scorers
  // What the scorer saw beyond the verdict, kept with the sample: for code, the status of the first
  // failing test with its (truncated) input, expected and actual output. An object; empty when none.
  nlohmann::json details = nlohmann::json::object();
};

// One sample as a scorer sees it. `material` is the problem's metadata, which is where code suites keep
// their tests (it is plain data: scorers still know nothing of suites).
struct Submission {
  std::string_view gold;
  std::string_view response;  // the final answer text (reasoning already removed)
  const nlohmann::json& material;
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual std::string name() const = 0;
  virtual Verdict grade(const Submission& submission) const = 0;
  // Checks, before any sample is generated, that this scorer can grade the problem whose material this is
  // (its tests are reachable, its environment exists), so a run stops before paying for answers it could
  // not grade. Throws UserError naming what is missing. Scorers that need only the gold accept anything.
  virtual void check_material(const nlohmann::json& material) const { (void)material; }
  // For scorers that need only the gold answer (math, mc).
  Verdict grade(std::string_view gold, std::string_view response) const;
};

// "math", "mc", "code" or "swebench"; throws UserError for an unknown name.
std::unique_ptr<Scorer> make_scorer(std::string_view name);

}  // namespace rbench
