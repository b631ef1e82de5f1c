#pragma once
// Sample- and question-level statistics. Standard errors are over questions, never over k x n samples.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rbench {

// Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), as a stable product.
double pass_at_k(int n, int c, int k);

// G-Pass@k_tau (Liu et al. 2024, "Are Your LLMs Capable of Stable Reasoning?", arXiv:2412.13147): the
// probability that at least m = ceil(tau * k) of k samples drawn without replacement from n, c of them
// correct, are correct: sum_{j=m}^{c} C(c,j) C(n-c,k-j) / C(n,k). As in the authors' code, m is at least 1,
// so tau = 0 gives pass@k. Throws std::invalid_argument unless 0 <= c <= n, 1 <= k <= n, 0 <= tau <= 1.
double g_pass_at_k(int n, int c, int k, double tau);

// mG-Pass@k: G-Pass@k_tau averaged over tau in (0.5, 1], the area under that curve:
// (2/k) * sum_{i=ceil(k/2)+1}^{k} G-Pass@k_{i/k}.
double mg_pass_at_k(int n, int c, int k);

// cons@k / maj@k: the majority vote over one problem's extracted answers, grouped by `equivalent`
// (math equivalence, so "\frac12" and "0.5" are one vote). Empty answers (nothing extracted) do not vote.
// Ties go to the class whose first member came first in sample order, as lighteval's maj@k does.
struct MajorityVote {
  std::optional<std::string> answer;  // the first-seen member of the winning class; nullopt when no votes
  int count = 0;                      // votes for it
  bool tied = false;                  // another class had as many votes (reports show the tie rate)
};
MajorityVote majority_vote(const std::vector<std::string>& answers,
                           const std::function<bool(const std::string&, const std::string&)>& equivalent);

struct MeanWithError {
  double mean = 0.0;
  double standard_error = 0.0;  // sample standard deviation / sqrt(n)
  int count = 0;
};

// Mean of per-question scores (each already averaged over that question's k samples).
MeanWithError question_mean(const std::vector<double>& per_question);

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// Wilson score interval for `successes` of `trials` at normal quantile z (1.96 for 95%).
Interval wilson_interval(int successes, int trials, double z = 1.96);

}  // namespace rbench
