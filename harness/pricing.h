#pragma once
// Dated API prices ($ per million tokens), extendable from a JSON file, and the cost of one sample.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "harness/backends/backend.h"

namespace rbench {

struct Price {
  double input = 0.0;         // $ / M uncached input tokens
  double cached_input = 0.0;  // $ / M cached input tokens
  double output = 0.0;        // $ / M output tokens (reasoning included)
  std::string date;           // when the price was read off the provider's page
};

class PriceTable {
 public:
  static PriceTable builtin();
  // Adds or overrides entries from a JSON file:
  //   {"date": "2026-01-01", "models": {"my-model": {"input": 1.0, "cached_input": 0.5, "output": 2.0}}}
  // An entry may carry its own "date". Throws UserError naming the file and the field.
  void load_file(const std::filesystem::path& file);
  // Exact name first, then the longest table entry that the name starts with followed by '-' or '@'
  // ("o1-2024-12-17" -> "o1").
  std::optional<Price> find(const std::string& model) const;
  const std::map<std::string, Price>& entries() const { return prices_; }

 private:
  std::map<std::string, Price> prices_;
};

double cost_usd(const Price& price, const TokenUsage& usage);
// Self-hosted runs: measured GPU time at a $/GPU-hour rate.
double gpu_cost_usd(double gpu_seconds, double dollars_per_gpu_hour);

}  // namespace rbench
