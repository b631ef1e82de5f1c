#pragma once
// The tests of a LiveCodeBench problem, from its material (Problem::metadata, test_format
// "livecodebench"): public_test_cases, then the private tests, in LiveCodeBench's order. The private
// tests, often megabytes, are not in the metadata (it is hashed and stored with every run): the loader
// keeps them in a side store, a file named by the sha256 of the published field, and the metadata holds
// only that hash (suites/livecodebench.h). This is the one place the code scorer reads that store.
#include <nlohmann/json.hpp>
#include <vector>

#include "scorers/code_harness.h"

namespace rbench {

// Throws UserError when the problem carries no tests (the suite was loaded without
// code_generation_lite), when its private tests are no longer in the side store, or when a test is
// not an {input, output} pair of strings.
std::vector<CodeTest> livecodebench_tests(const nlohmann::json& material);

}  // namespace rbench
