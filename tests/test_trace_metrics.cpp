#include <gtest/gtest.h>

#include <string>

#include "reports/trace_metrics.h"

namespace rbench {
namespace {

TEST(TraceMeasures, CountsReflectionMarkersOnWholeWords) {
  // wait, double-check ("let me double-check" once), hmmm (as hmm), alternatively, recheck
  const TraceMeasures m = measure_trace("Wait, let me double-check. Hmmm... Alternatively we could recheck.", "x");
  EXPECT_EQ(m.reflection_markers, 5);
  EXPECT_EQ(m.words, 9);  // Wait let me double-check Hmmm Alternatively we could recheck
  EXPECT_EQ(measure_trace("But wait, but WAIT.", "").reflection_markers, 2);  // "but wait" counts once
  EXPECT_EQ(measure_trace("let me check again; let me verify. On second thought, no.", "").reflection_markers, 3);
  EXPECT_EQ(measure_trace("a double check", "").reflection_markers, 1);
  EXPECT_EQ(measure_trace("Let me re-examine and reconsider, then re-evaluate.", "").reflection_markers, 3);
  // substrings and near misses are not markers
  EXPECT_EQ(measure_trace("awaiting the waiter, checking, let us check, second thoughts", "").reflection_markers, 0);
  EXPECT_EQ(measure_trace("", "").reflection_markers, 0);
}

TEST(TraceMeasures, LatexCommandNamesAndSingleLettersAreNotWords) {
  const TraceMeasures m = measure_trace("\\frac{a}{b} = \\sqrt{x} so wait", "");
  EXPECT_EQ(m.words, 2);  // "so", "wait"
  EXPECT_EQ(m.latin_words, 2);
  EXPECT_EQ(m.reflection_markers, 1);
  // "\wait" is a LaTeX command, not the word
  EXPECT_EQ(measure_trace("\\wait", "").reflection_markers, 0);
}

TEST(TraceMeasures, CountsCodePointsAndScripts) {
  // 等等 我们 再算 一次: 8 Han characters; the full-width comma U+FF0C is not a letter; "x" is a single letter
  const TraceMeasures chinese = measure_trace("等等，我们再算一次 x = 3", "");
  EXPECT_EQ(chinese.cjk_characters, 8);
  EXPECT_EQ(chinese.latin_words, 0);
  EXPECT_EQ(chinese.think_chars, 15);  // 9 + 1 space + x + space + = + space + 3
  EXPECT_FALSE(chinese.language_mixed());
  // 5 Latin words and 4 Han characters: both shares above 10%
  const TraceMeasures mixed = measure_trace("Let us compute 首先计算 the sum", "");
  EXPECT_EQ(mixed.latin_words, 5);
  EXPECT_EQ(mixed.cjk_characters, 4);
  EXPECT_TRUE(mixed.language_mixed());
  // one kana character among 20 English words: 1/21 < 10%
  std::string mostly_english;
  for (int i = 0; i < 20; ++i) mostly_english += "word ";
  EXPECT_FALSE(measure_trace(mostly_english + "ね", "").language_mixed());
  // hangul counts as CJK; accented Latin letters belong to their word
  EXPECT_EQ(measure_trace("한국어", "").cjk_characters, 3);
  const TraceMeasures accented = measure_trace("naïve wait", "");
  EXPECT_EQ(accented.latin_words, 2);
  EXPECT_EQ(accented.reflection_markers, 1);
}

TEST(TraceMeasures, SurvivesMalformedUtf8AndLongWords) {
  const TraceMeasures broken = measure_trace(std::string("\xff\xfe wait \xe4\xb8", 10), "");
  EXPECT_EQ(broken.reflection_markers, 1);
  EXPECT_EQ(broken.cjk_characters, 0);
  const TraceMeasures long_word = measure_trace(std::string(500, 'w') + " hmm", "");
  EXPECT_EQ(long_word.words, 2);
  EXPECT_EQ(long_word.reflection_markers, 1);
}

TEST(TraceMeasures, FormatFromWhatTheStoreHolds) {
  EXPECT_TRUE(measure_trace("think", "The answer is \\boxed{3}.").think_closed);
  EXPECT_TRUE(measure_trace("think", "The answer is \\boxed{3}.").boxed_answer);
  EXPECT_FALSE(measure_trace("an unclosed think", "").think_closed);    // cut off inside <think>
  EXPECT_FALSE(measure_trace("an unclosed think", " \n").think_closed);
  EXPECT_FALSE(measure_trace("", "an answer without reasoning").think_closed);
  EXPECT_FALSE(measure_trace("t", "3").boxed_answer);
  EXPECT_TRUE(measure_trace("t", "</think> 3").stray_think_tags);
  EXPECT_TRUE(measure_trace("t", "<think>again").stray_think_tags);
  EXPECT_FALSE(measure_trace("t", "3").stray_think_tags);
}

SampleView view(std::string_view reasoning, std::string_view answer) {
  SampleView sample;
  sample.reasoning = reasoning;
  sample.answer = answer;
  return sample;
}

TEST(TraceAccumulator, AggregatesPerRun) {
  TraceAccumulator math(true);
  math.add(view("Wait, the sum is five.", "\\boxed{5}"));   // 5 words, 1 marker, compliant
  math.add(view("We add them.", "5"));                     // 3 words, no box
  math.add(view("Let us compute 首先计算 the sum", ""));   // unclosed, mixed
  const TraceSummary summary = math.summary();
  EXPECT_EQ(summary.samples, 3);
  EXPECT_NEAR(summary.think_closed_rate, 2.0 / 3, 1e-15);
  ASSERT_TRUE(summary.boxed_rate.has_value());
  EXPECT_NEAR(*summary.boxed_rate, 1.0 / 3, 1e-15);
  EXPECT_NEAR(summary.format_compliance_rate, 1.0 / 3, 1e-15);
  EXPECT_NEAR(summary.language_mixed_rate, 1.0 / 3, 1e-15);
  // words: 5 + 3 + (5 Latin + 4 CJK) = 17; 1 marker -> 1000 / 17 per 1k words; CJK share 4 / 17
  EXPECT_NEAR(summary.reflections_per_1k_words, 1000.0 / 17, 1e-12);
  EXPECT_NEAR(summary.cjk_share, 4.0 / 17, 1e-15);
  // (22 + 12 + 27) code points / 3
  EXPECT_NEAR(summary.mean_think_chars, (22.0 + 12 + 27) / 3, 1e-12);

  TraceAccumulator multiple_choice(false);
  multiple_choice.add(view("Reasoning.", "Answer: B"));
  EXPECT_FALSE(multiple_choice.summary().boxed_rate.has_value());
  EXPECT_EQ(multiple_choice.summary().format_compliance_rate, 1.0);
  EXPECT_EQ(TraceAccumulator(true).summary().samples, 0);
}

TEST(TraceAccumulator, BoxedAnswerIsAskedForByMathPrompts) {
  EXPECT_TRUE(
      asks_for_boxed_answer("{question}\nPlease reason step by step, and put your final answer within \\boxed{}."));
  EXPECT_FALSE(asks_for_boxed_answer("Answer the following multiple choice question."));
}

}  // namespace
}  // namespace rbench
