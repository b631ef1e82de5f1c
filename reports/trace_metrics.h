#pragma once
// Reasoning-trace metrics, from what the store holds: the reasoning (the <think> text, already split from the
// answer by the backend; with the R1 prefill the opening tag is in the prompt, not the output), the final
// answer and the finish reason. docs/statistics.md defines each.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "harness/store/store.h"

namespace rbench {

// Phrases counted as reflection (self-verification) markers, matched on lowercased whole words; "hmmm" and
// longer count as "hmm", and "but wait" counts once, as "wait". English only.
inline constexpr std::array<std::string_view, 15> kReflectionMarkers = {
    "wait",       "hmm",       "alternatively", "double-check", "double check", "recheck",      "re-check",
    "re-examine", "reexamine", "re-evaluate",   "reevaluate",   "reconsider",   "let me check", "let me verify",
    "on second thought"};

// A trace mixes languages when CJK and Latin words each make up at least this share of its words.
inline constexpr double kLanguageMixingShare = 0.10;

struct TraceMeasures {
  int64_t think_chars = 0;    // Unicode code points of the reasoning
  int64_t words = 0;          // Latin words of 2+ letters (LaTeX command names excluded) plus CJK characters
  int64_t latin_words = 0;
  int64_t cjk_characters = 0; // Han, kana, hangul: each counts as a word
  int reflection_markers = 0; // "wait", "hmm", "alternatively", "double-check", ... (kReflectionMarkers)
  bool think_closed = false;  // reasoning non-empty and an answer after it (an unclosed <think> leaves none)
  bool boxed_answer = false;  // \boxed{ in the answer
  bool stray_think_tags = false;  // <think> or </think> left in the answer
  bool language_mixed() const;
};

TraceMeasures measure_trace(std::string_view reasoning, std::string_view answer);

// Per run, over the samples graded (errors excluded).
struct TraceSummary {
  int samples = 0;
  double mean_think_chars = 0.0;
  double think_closed_rate = 0.0;
  std::optional<double> boxed_rate;  // only when the prompt asks for \boxed{} (math suites)
  double format_compliance_rate = 0.0;  // think closed, no stray tags, and boxed where asked
  double cjk_share = 0.0;            // CJK characters / (CJK characters + Latin words), over all the run's traces
  double language_mixed_rate = 0.0;  // traces that mix languages (kLanguageMixingShare)
  double reflections_per_1k_words = 0.0;  // over all the run's traces
};

class TraceAccumulator {
 public:
  explicit TraceAccumulator(bool boxed_answer_required) : boxed_answer_required_(boxed_answer_required) {}
  void add(const SampleView& sample);  // graded samples only: the caller skips errors
  TraceSummary summary() const;

 private:
  bool boxed_answer_required_;
  int samples_ = 0;
  int64_t think_chars_ = 0, words_ = 0, latin_words_ = 0, cjk_characters_ = 0, reflection_markers_ = 0;
  int closed_ = 0, boxed_ = 0, compliant_ = 0, mixed_ = 0;
};

// Whether a run's prompt template asks for a \boxed{} answer.
bool asks_for_boxed_answer(std::string_view prompt_template);

}  // namespace rbench
