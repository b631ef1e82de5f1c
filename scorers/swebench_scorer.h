#pragma once
// The "swebench" scorer: resolves a SWE-bench instance with the model's patch, without Docker.
//
// For each sample it copies the prepared clone of the instance's repository (per repository and version,
// under the environments directory; docs/swebench.md) to a fresh checkout, checks out base_commit, applies
// the model's patch on the host (a patch is data: patch.h), resets the files the test patch touches and
// applies it, then runs the instance's tests inside the sandbox (no network, the checkout as the work
// directory, the prepared Python environment read-only), parses the log (swebench_log.h) and grades
// FAIL_TO_PASS and PASS_TO_PASS. The checkout is deleted afterwards.
//
// Verdict: "correct" when resolved; "no_answer" when the response holds no patch; else "incorrect".
// Verdict.details: {"status": "resolved|partial|unresolved|no_patch|patch_refused|patch_failed|
// tests_errored|timeout|invalid_log", "f2p": {"passed": [...], "failed": [...]}, "p2p": {...},
// "patch_apply": "git apply|git apply --3way|git apply --reject|patch --fuzz=5|already applied",
// "exit_code", "test_command", "wall_ms", "message" (why, for the statuses that are not graded by tests),
// "log_tail"}. A missing or broken environment, or a sandbox that cannot be set up, throws UserError
// naming what is missing: that is the user's setup, never the model's failure.
#include <filesystem>
#include <memory>

#include "scorers/scorer.h"

namespace rbench::swebench {

struct ScorerOptions {
  std::filesystem::path environments;  // holds <owner>__<repo>/<version>/ (docs/swebench.md)
  std::filesystem::path scratch;       // where per-sample checkouts go; empty: the system temp directory
  int max_parallel_runs = 0;           // samples evaluated at once; 0: one per hardware thread
};

// `environments`, or when empty RBENCH_SWEBENCH_ENVS (one of them is required), with RBENCH_SWEBENCH_SCRATCH
// and RBENCH_SWEBENCH_JOBS. Throws UserError naming the variable when one is unset or wrong.
ScorerOptions options_from_environment(const std::filesystem::path& environments = {});

// Throws UserError when the environments directory does not exist.
std::unique_ptr<Scorer> make_swebench_scorer(const ScorerOptions& options);

}  // namespace rbench::swebench
