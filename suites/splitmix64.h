#pragma once
// splitmix64: a tiny generator that gives the same stream on every platform and standard library
// (std::shuffle and the std distributions do not), for orders that must be reproducible anywhere.
#include <cstdint>

namespace rbench {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound), bound > 0: draws that fall in the incomplete last block are rejected.
  uint64_t below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t draw = next();
    while (draw >= limit) draw = next();
    return draw % bound;
  }

 private:
  uint64_t state_;
};

}  // namespace rbench
