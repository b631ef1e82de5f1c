#pragma once
// The parts every data-backed suite shares: a Suite over loaded problems, and the prompt renderers of
// the DeepSeek-R1 protocol (no system prompt, instructions in the user turn, "<think>\n" prefill).
//
// Metadata keys shared across suites, so reports need no per-suite knowledge:
//   "cluster"       items in one cluster are correlated (same subject, contest or repository);
//                   reports use it for clustered standard errors
//   "release_date"  "YYYY-MM-DD" the problem became public, for contamination windows
//   "subject", "level", "contest", "year", "difficulty", "repository": as the dataset gives them
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "suites/suite.h"

namespace rbench {

struct SuiteSpec {
  std::string name;
  std::string scorer;
  std::string prompt_template;  // the template text, part of a run's identity
  std::function<Prompt(const Problem&, int sample_index)> render;
  // A hash of content the problems do not carry but prompts use (GPQA keeps its choices out of the
  // metadata, so the store never holds them); folded into the data hash. "" when there is none.
  std::string hidden_content_hash;
  bool questions_exportable = true;  // see Suite::questions_exportable
};

// A suite over `problems`, versioned by hash_problems. Throws UserError naming `source` when two
// problems share an id (results are keyed by it) or there are none.
std::unique_ptr<Suite> make_loaded_suite(SuiteSpec spec, std::vector<Problem> problems, const std::string& source);

inline constexpr const char* kThinkPrefill = "<think>\n";

// One user message, the `<think>\n` prefill, and the gold answer.
Prompt render_user_prompt(std::string content, std::string gold);

// simple-evals' QUERY_TEMPLATE_MULTICHOICE (common.py), used for GPQA and MMLU alike.
inline constexpr const char* kMultipleChoiceTemplate =
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before "
    "answering.\n\n{Question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}";

// kMultipleChoiceTemplate filled in (plain substitution: the texts may hold braces).
std::string format_multiple_choice(std::string_view question, const std::array<std::string, 4>& choices);

// "A".."D" for 0..3.
std::string choice_letter(size_t index);

}  // namespace rbench
