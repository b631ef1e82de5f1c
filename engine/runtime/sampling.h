#pragma once
// Choosing the next token from logits: greedy, or temperature with top-k, top-p and min-p filters.
// Each sequence owns its sampler and its random stream, so what it draws never depends on which other
// sequences share its batch: a seeded request is reproducible.
#include <cstdint>
#include <span>
#include <vector>

namespace rbench::engine {

struct SamplingConfig {
  bool greedy = false;       // argmax; the other fields are ignored
  float temperature = 1.0f;  // 0 means greedy
  float top_p = 1.0f;        // keep the smallest set of tokens whose probability reaches top_p
  int top_k = 0;             // keep the k most likely tokens (0 = all)
  float min_p = 0.0f;        // drop tokens less likely than min_p × the most likely one
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingConfig& config);
  int32_t sample(std::span<const float> logits);

 private:
  double next_uniform();  // [0, 1)

  SamplingConfig config_;
  uint64_t state_[4];     // xoshiro256** state
  std::vector<std::pair<float, int32_t>> candidates_;  // reused between calls
};

int32_t argmax(std::span<const float> logits);

}  // namespace rbench::engine
