#include "engine/runtime/sampling.h"

#include <algorithm>
#include <cmath>

namespace rbench::engine {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotate_left(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingConfig& config) : config_(config) {
  uint64_t seed = config.seed;
  for (auto& word : state_) word = splitmix64(seed);
}

double Sampler::next_uniform() {
  const uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotate_left(state_[3], 45);
  return static_cast<double>(result >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (config_.greedy || config_.temperature <= 0.0f) return argmax(logits);

  // Softmax at the temperature, most likely first.
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  candidates_.clear();
  candidates_.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float p = std::exp((logits[i] - max_logit) / config_.temperature);
    if (p > 0.0f) candidates_.emplace_back(p, static_cast<int32_t>(i));
  }
  const auto by_probability = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (config_.top_k > 0) keep = std::min(keep, static_cast<size_t>(config_.top_k));
  // Only the kept head needs to be in order; a full sort of a 150k vocabulary is the slow part.
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(),
                    by_probability);
  candidates_.resize(keep);

  double total = 0.0;
  for (const auto& [p, id] : candidates_) total += p;
  if (config_.min_p > 0.0f) {
    const float floor = config_.min_p * candidates_.front().first;
    while (candidates_.size() > 1 && candidates_.back().first < floor) {
      total -= candidates_.back().first;
      candidates_.pop_back();
    }
  }
  if (config_.top_p < 1.0f) {
    double mass = 0.0;
    size_t cut = 0;
    while (cut < candidates_.size() && mass < config_.top_p * total) mass += candidates_[cut++].first;
    candidates_.resize(std::max<size_t>(cut, 1));
    total = mass > 0.0 ? mass : candidates_.front().first;
  }
  double target = next_uniform() * total;
  for (const auto& [p, id] : candidates_) {
    target -= p;
    if (target < 0.0) return id;
  }
  return candidates_.back().second;
}

}  // namespace rbench::engine
