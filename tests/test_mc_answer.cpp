// Multiple-choice letter extraction: the failure modes of known extractors (sources as in
// ../shared/GRADING_NOTES.md §0 and §2):
//   SE   openai/simple-evals ANSWER_PATTERN_MULTICHOICE and MULTILINGUAL_ANSWER_REGEXES
//   LV   huggingface/lighteval test_extractive_match.py and test_cases/gpqa_instruct_metric.json
//   MV   huggingface/Math-Verify StringExtractionConfig tests
//   LM   EleutherAI/lm-evaluation-harness tests/test_filters.py (MultiChoiceRegexFilter)
//   OC   open-compass text_postprocessors tests
//   CT   raybears/cot-transparency answer_examples.yaml ("The best answer is: (X)")
//   W    written for reasoning-model output
// `expected` 0 means no answer. Where rbench deliberately differs from the source the note says "differs:".
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "common/error.h"
#include "scorers/mc_answer.h"
#include "scorers/scorer.h"

namespace rbench {
namespace {

struct Case {
  std::string_view response;
  char expected;  // 0: no answer
  std::string_view reason;
};

// clang-format off
const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // ---- simple-evals' "Answer: X" and what its regex misses ----
      {"Let me think step by step. Paris is the capital.\n\nAnswer: B", 'B', "SE/LV: basic final line"},
      {"Answer: $C$", 'C', "SE: the regex allows $ around the letter"},
      {"answer: D", 'D', "SE: the answer word is case-insensitive"},
      {"Jupiter is the largest planet. So the answer is c.\n\nAnswer: c", 0, "SE/LV: a lowercase letter scores 0"},
      {"**Answer:** B", 'B', "differs: SE's regex misses markdown bold"},
      {"Answer: (B)", 'B', "differs: SE misses parentheses"},
      {R"(Answer: $\boxed{D}$)", 'D', "differs: SE misses a boxed letter"},
      {"Answer: A\nOn reflection that is wrong.\nAnswer: C", 'C', "differs: SE takes the first Answer: line; the last is the model's final word"},
      {"Answer: J", 'J', "MMLU-Pro letters go to J"},
      {"Answer: K", 0, "K is no option letter"},
      {"Answer: I", 'I', "MMLU-Pro option I is not the pronoun"},
      {"Answer: I think it's B", 'B', "the pronoun I is no option; the lone letter at the end is"},
      {"Answer: A or B", 0, "ambiguous: two options offered"},
      {"Answer: A, B", 0, "ambiguous: two options listed"},
      {"Answer: (A)/(C)", 0, "ambiguous: options joined by a slash"},
      {"Answer: C) 42 m/s", 'C', "option with its text"},
      {"The opposite of hot is cold. So the answer is B.\n\nAnswer: B, which is cold.", 'B', "LV: extra text after the letter"},
      {"A triangle has three sides. So the answer is B.\n\nAnswer: B.", 'B', "LV: period after the letter"},
      {"The capital of Japan is Tokyo. So the answer is \"C\".\n\nAnswer: \"C\"", 'C', "differs: LV scores quoted letters 0"},
      {"The sky appears blue. The answer is C.\n\nAnswer: A", 'A', "LV: the final Answer: line wins over earlier reasoning"},
      {"The square root of 16 is 4. Therefore, the answer is B.", 'B', "LV: answer phrase without Answer:"},
      {"The primary colors are red, blue and yellow. So the answer is C (Red).\n\nAnswer: C", 'C', "LV: letter mentioned several times"},
      {"Let me solve this step by step:\n1. 15 x 3 = 45\n2. This matches option C\n\nAnswer: C", 'C', "LV: numbered steps"},
      {"The Pacific Ocean is the largest ocean on Earth, much larger than the Atlantic, Indian and Arctic oceans.", 0, "LV: no answer given"},
      {"ANSWER: D", 'D', "upper-case answer word"},
      {"Answer:B", 'B', "no space after the colon"},
      {R"(Answer: $\text{B}$)", 'B', "letter in \\text"},
      {"Answer: A is correct because the others fail.", 'A', "the article rule spares 'A is'"},
      {"A good choice would be C.\nAnswer: C", 'C', "the article A is no option"},
      {"Final answer: A", 'A', "final answer"},
      {"final answer: **(D)**", 'D', "bold parenthesised letter"},

      // ---- boxed letters ----
      {R"(\boxed{C})", 'C', "W: boxed letter"},
      {R"(The answer is $\boxed{\text{C}}$.)", 'C', "W: boxed \\text letter"},
      {R"($\boxed{\text{(C)}}$)", 'C', "W: boxed parenthesised letter"},
      {R"(\boxed{\textbf{B}})", 'B', "W: boxed bold letter"},
      {R"(\boxed{A} \boxed{B})", 0, "ambiguous: two boxed letters side by side"},
      {R"(\boxed{A} or \boxed{D})", 0, "ambiguous: boxed alternatives"},
      {R"(At first \boxed{A} seemed right, but after checking the units the answer must be \boxed{B})", 'B', "the last box wins when prose separates them"},
      {R"(So the speed is \boxed{42}. Answer: D)", 'D', "a boxed number is no letter; the Answer: line is"},
      {R"(\boxed{A, C})", 0, "ambiguous: two letters in one box"},

      // ---- answer phrases ----
      {"thinking about it I think the correct answer is C", 'C', "LV"},
      {"The answer is for sure D, it can't be A or B", 'D', "LV: filler words and letters rejected afterwards"},
      {"The answer: D, it doesn't make sense for it to be A or B", 'D', "LV"},
      {"The correct answer is **C**", 'C', "bold after the phrase"},
      {"The best answer is: (B)", 'B', "CT format"},
      {"the answer is option B", 'B', "option word"},
      {"The chemical symbol for gold is Au. So the answer is (B) Au.\n\nAnswer: B", 'B', "LV: parentheses then final line"},
      {"The correct option is (C).", 'C', "correct option"},
      {"After eliminating the rest, B is correct.", 'B', "letter before a verdict"},
      {"Because B is valid", 'B', "MV: option before 'is valid'"},
      {"No valid answer here", 0, "MV: none"},
      {"I think the answer is C", 'C', "the pronoun I before the phrase"},

      // ---- other languages (simple-evals' answer words, lighteval's French) ----
      {"答案：C", 'C', "SE: Chinese answer word, full-width colon"},
      {"答案: B", 'B', "SE: Chinese answer word, ASCII colon"},
      {"所以答案是 D", 'D', "Chinese 'the answer is'"},
      {"Respuesta: C", 'C', "SE: Spanish"},
      {"Réponse : C", 'C', "SE: French with a space before the colon"},
      {"Antwort: C", 'C', "SE: German"},
      {"Risposta: A", 'A', "SE: Italian"},
      {"答え：D", 'D', "SE: Japanese"},
      {"정답: A", 'A', "SE: Korean"},
      {"réponse est C non A", 'C', "LV: French 'est'"},
      {"答案：Ｂ", 'B', "SE: full-width letter"},
      {"الإجابة: ب", 'B', "SE: Arabic answer word and letter"},
      {"উত্তর: ব", 'B', "SE: Bengali answer word and letter"},
      {"B。 不是 A", 'B', "LV: Chinese full stop after the letter"},
      {"B不是 A", 'B', "LV: Chinese text after the letter"},

      // ---- the final line ----
      {"D. it can't be A or B", 'D', "LV: line starts with the option"},
      {"C", 'C', "LV: the letter alone"},
      {"(C) Cecile", 'C', "LV: option with its text"},
      {"After weighing the options:\n(B)", 'B', "W: parenthesised letter on the last line"},
      {"After weighing the options:\n**C**", 'C', "W: bold letter on the last line"},
      {"The speed follows from v = d/t.\nB) 3.5 m/s", 'B', "W: option line"},
      {"Between (A) and (C), I pick (C).", 0, "ambiguous: two options equally final"},
      {"Let's think step by step. It's not A because it doesn't make sense, therefore I think it's B", 'B', "LV: lone letter ending the answer"},
      {"The answer could be A or B", 0, "ambiguous: alternatives at the end"},
      {": B", 'B', "LM: bare letter after a colon"},
      {"A then C then B", 'B', "OC last_option_postprocess: the last option"},
      {"I considered **A** but the evidence points to **D**.", 'D', "W: the last bold letter ends the answer"},
      {"I think so.", 0, "the pronoun I alone is no answer"},
      {"Option A is wrong and option B is also wrong, so D", 'D', "W: an option named at the start is not chosen"},
      {"Let me check: A) 5, B) 6, C) 7. The answer is B.", 'B', "W: options listed before the answer phrase"},

      // ---- reasoning traces ----
      {"<think>Maybe A, maybe C.</think>\nAnswer: B", 'B', "W: only the text after </think> counts"},
      {"<think>Let me consider option A. The answer is A", 0, "W: reasoning cut off by the token limit has no answer"},
      {"<think>The answer is A</think>", 0, "W: nothing after the reasoning"},
      {"<think>hmm</think>\n\n**Answer: C**", 'C', "W: bold answer line"},
  };
  return all;
}
// clang-format on

TEST(ExtractChoiceLetter, EveryCaseGetsTheExpectedLetter) {
  ASSERT_GE(cases().size(), 60u);
  for (const Case& c : cases()) {
    const auto letter = extract_choice_letter(c.response);
    const char got = letter.value_or(0);
    EXPECT_EQ(got, c.expected) << c.reason << "\n  response: " << c.response << "\n  got: " << (got ? got : '-');
  }
}

TEST(ChoiceScorer, GradesAgainstTheGoldLetter) {
  const auto scorer = make_scorer("mc");
  EXPECT_EQ(scorer->name(), "mc");
  const Verdict right = scorer->grade("B", "Reasoning...\nAnswer: B");
  EXPECT_TRUE(right.correct);
  EXPECT_EQ(right.verdict, "correct");
  EXPECT_EQ(right.extracted, "B");
  EXPECT_DOUBLE_EQ(right.score, 1.0);
  EXPECT_TRUE(scorer->grade("(C)", "Answer: C").correct);  // a gold written as "(C)"
  const Verdict wrong = scorer->grade("B", "Answer: D");
  EXPECT_EQ(wrong.verdict, "incorrect");
  EXPECT_EQ(wrong.extracted, "D");
  const Verdict none = scorer->grade("B", "Answer: A or B");
  EXPECT_EQ(none.verdict, "no_answer");
  EXPECT_EQ(none.extracted, "");
}

TEST(ChoiceScorer, RejectsAGoldThatIsNoLetter) {
  const auto scorer = make_scorer("mc");
  EXPECT_THROW(scorer->grade("Paris", "Answer: B"), UserError);
}

}  // namespace
}  // namespace rbench
