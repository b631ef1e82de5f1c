#pragma once
// `arith`: deterministic multi-step arithmetic word problems with exact integer answers.
// Problem i of seed s is the same whatever the suite size, so sizes nest and --limit is a prefix.
#include <cstdint>
#include <memory>
#include <string>

#include "suites/suite.h"

namespace rbench {

// Problem `index` of the set generated from `seed`, with its step-by-step working as `solution`.
Problem generate_arith_problem(uint64_t seed, int index);

inline constexpr int kArithDefaultSize = 100;
inline constexpr uint64_t kArithDefaultSeed = 2024;  // the evaluation set; training must use other seeds

std::unique_ptr<Suite> make_arith_suite(uint64_t seed, int size);

}  // namespace rbench
