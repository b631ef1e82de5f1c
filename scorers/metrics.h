#pragma once
// Sample- and question-level statistics. Standard errors are over questions, never over k x n samples.
#include <vector>

namespace rbench {

// Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), as a stable product.
double pass_at_k(int n, int c, int k);

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
