#include "harness/pricing.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace rbench {

PriceTable PriceTable::builtin() {
  // List prices from the providers' pricing pages on the dates given.
  PriceTable table;
  table.prices_ = {
      {"deepseek-reasoner", {0.55, 0.14, 2.19, "2025-01-20"}},
      {"deepseek-chat", {0.27, 0.07, 1.10, "2025-02-08"}},
      {"o1", {15.00, 7.50, 60.00, "2024-12-17"}},
      {"o1-mini", {1.10, 0.55, 4.40, "2025-01-31"}},
      {"o3-mini", {1.10, 0.55, 4.40, "2025-01-31"}},
      {"gpt-4o", {2.50, 1.25, 10.00, "2024-10-01"}},
      {"gpt-4o-mini", {0.15, 0.075, 0.60, "2024-10-01"}},
  };
  return table;
}

void PriceTable::load_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw UserError(fmt::format("cannot read price file {}", file.string()));
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(fmt::format("price file {}: not valid JSON ({})", file.string(), e.what()));
  }
  if (!root.is_object() || !root.contains("models") || !root["models"].is_object()) {
    throw UserError(fmt::format("price file {}: expected an object with a 'models' object", file.string()));
  }
  const std::string default_date = root.value("date", "");
  for (const auto& [name, entry] : root["models"].items()) {
    const std::string where = fmt::format("price file {}: models.{}", file.string(), name);
    Price price;
    for (auto [key, target] : {std::pair{"input", &price.input}, std::pair{"cached_input", &price.cached_input},
                               std::pair{"output", &price.output}}) {
      if (!entry.contains(key) || !entry[key].is_number() || entry[key].get<double>() < 0) {
        throw UserError(fmt::format("{}.{}: expected a non-negative number ($ per million tokens)", where, key));
      }
      *target = entry[key].get<double>();
    }
    price.date = entry.value("date", default_date);
    prices_[name] = price;
  }
}

std::optional<Price> PriceTable::find(const std::string& model) const {
  if (const auto it = prices_.find(model); it != prices_.end()) return it->second;
  const Price* best = nullptr;
  size_t best_length = 0;
  for (const auto& [name, price] : prices_) {
    const bool prefix = model.size() > name.size() && model.starts_with(name) &&
                        (model[name.size()] == '-' || model[name.size()] == '@');
    if (prefix && name.size() > best_length) {
      best = &price;
      best_length = name.size();
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

double cost_usd(const Price& price, const TokenUsage& usage) {
  const int64_t cached = std::min(usage.cached_input, usage.input);
  return ((usage.input - cached) * price.input + cached * price.cached_input + usage.output * price.output) / 1e6;
}

double gpu_cost_usd(double gpu_seconds, double dollars_per_gpu_hour) { return gpu_seconds / 3600.0 * dollars_per_gpu_hour; }

}  // namespace rbench
