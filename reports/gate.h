#pragma once
// The regression gate: a one-sided paired non-inferiority test of a candidate against a baseline, suite by
// suite. H0: delta = candidate - baseline <= -margin; a suite passes when the test rejects H0, i.e. when the
// lower one-sided (1 - alpha) confidence bound of delta lies above -margin. With several suites every suite
// must pass at alpha: "non-inferior on every suite" is an intersection-union test, which keeps its level
// without any multiplicity adjustment (Holm would only add false alarms).
#include <string>
#include <vector>

#include "harness/store/store.h"
#include "reports/compare.h"
#include "reports/statistics.h"

namespace rbench {

struct GateOptions {
  double margin = 0.0;  // on the score scale: 0.02 is 2 points; must lie in (0, 1)
  double alpha = 0.05;  // one-sided; must lie in (0, 0.5)
  CompareOptions compare;
};

struct SuiteGate {
  PairedComparison comparison;  // A = baseline, B = candidate
  NonInferiority test;          // at alpha
  bool passed = false;          // test.p_value < alpha
};

struct GateResult {
  std::string baseline, candidate;  // the selectors as given
  double margin = 0.0, alpha = 0.0;
  std::vector<SuiteGate> suites;
  std::vector<UnpairedRun> ungated;  // suites only the candidate has (no baseline yet)
  bool passed() const;
};

// Throws UserError for a margin or alpha out of range, an unknown run or tag, a suite the baseline has and
// the candidate lacks, or a suite with fewer than two shared items.
GateResult run_gate(const Store& store, const std::string& baseline, const std::string& candidate,
                    const GateOptions& options);

std::string render_gate_summary(const GateResult& result);   // terminal
std::string render_gate_markdown(const GateResult& result);  // a CI comment, with the flipped items

}  // namespace rbench
