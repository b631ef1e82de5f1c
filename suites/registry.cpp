#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/hash.h"
#include "suites/arith.h"
#include "suites/data_suites.h"
#include "suites/suite.h"

namespace rbench {

namespace {

struct SuiteEntry {
  SuiteInfo info;
  std::unique_ptr<Suite> (*open)(const SuiteOptions&);
};

std::unique_ptr<Suite> open_arith(const SuiteOptions& options) {
  const uint64_t seed = options.seed != 0 ? options.seed : kArithDefaultSeed;
  const int size = options.size > 0 ? options.size : kArithDefaultSize;
  return make_arith_suite(seed, size);
}

const std::vector<SuiteEntry>& registry() {
  static const std::vector<SuiteEntry> entries = {
      {{"arith", "generated multi-step arithmetic word problems with integer answers (embedded, seeded)"},
       open_arith},
      {{"aime2024", "AIME 2024 I and II: 30 problems, integer answers"}, open_aime2024},
      {{"aime2025", "AIME 2025 I and II: 30 problems, integer answers"}, open_aime2025},
      {{"math500", "MATH-500: 500 competition problems (OpenAI's PRM800K split), LaTeX answers"}, open_math500},
      {{"gpqa_diamond", "GPQA Diamond: 198 graduate-level science questions, 4 choices shuffled per sample"},
       open_gpqa_diamond},
      {{"mmlu", "MMLU test split: 14042 questions in 57 subjects, 0-shot"}, open_mmlu},
      {{"livecodebench", "LiveCodeBench 2408-2502 (release_v5): 279 problems, tests from the Hub"},
       open_livecodebench},
      {{"humaneval", "HumanEval: 164 Python functions from docstrings"}, open_humaneval},
      {{"mbpp", "MBPP test split (task_ids 11-510): 500 Python tasks, 3-shot"}, open_mbpp},
      {{"leetcode_contest", "LeetCode weekly/biweekly contests Jul 2023-Jan 2024: 180 problems"},
       open_leetcode_contest},
      {{"swebench_verified", "SWE-bench Verified: the 50 instances on hand (django, sphinx), text-only prompt"},
       open_swebench_verified},
  };
  return entries;
}

}  // namespace

std::unique_ptr<Suite> open_suite(const std::string& name, const SuiteOptions& options) {
  std::vector<std::string> known;
  for (const auto& entry : registry()) {
    if (entry.info.name == name) return entry.open(options);
    known.push_back(entry.info.name);
  }
  throw UserError(fmt::format("unknown suite '{}'; known suites: {}", name, fmt::join(known, ", ")));
}

std::vector<SuiteInfo> list_suites() {
  std::vector<SuiteInfo> infos;
  for (const auto& entry : registry()) infos.push_back(entry.info);
  return infos;
}

Prompt render_math_prompt(const Problem& problem) {
  Prompt prompt;
  prompt.messages = {{"user", problem.question + "\n" + kMathInstruction}};
  prompt.assistant_prefill = "<think>\n";
  prompt.gold = problem.gold;
  return prompt;
}

std::string hash_problems(const std::vector<Problem>& problems) {
  Sha256 hash;
  for (const auto& problem : problems) {
    hash.field(problem.id).field(problem.question).field(problem.gold).field(problem.metadata.dump());
  }
  return hash.hex();
}

}  // namespace rbench
