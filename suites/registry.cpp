#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/hash.h"
#include "suites/arith.h"
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
