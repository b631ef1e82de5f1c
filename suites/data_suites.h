#pragma once
// The published benchmark suites, loaded from files (see data_files.h for where they are looked for).
#include <memory>

#include "suites/suite.h"

namespace rbench {

// math_suites.cpp: scorer "math"
std::unique_ptr<Suite> open_math500(const SuiteOptions& options);
std::unique_ptr<Suite> open_aime2024(const SuiteOptions& options);
std::unique_ptr<Suite> open_aime2025(const SuiteOptions& options);

// multiple_choice.cpp, gpqa.cpp: scorer "mc"
std::unique_ptr<Suite> open_mmlu(const SuiteOptions& options);
std::unique_ptr<Suite> open_gpqa_diamond(const SuiteOptions& options);

// code_suites.cpp, livecodebench.cpp: scorer "code"
std::unique_ptr<Suite> open_humaneval(const SuiteOptions& options);
std::unique_ptr<Suite> open_mbpp(const SuiteOptions& options);
std::unique_ptr<Suite> open_leetcode_contest(const SuiteOptions& options);
std::unique_ptr<Suite> open_livecodebench(const SuiteOptions& options);

// swebench.cpp: scorer "swebench"
std::unique_ptr<Suite> open_swebench_verified(const SuiteOptions& options);

}  // namespace rbench
