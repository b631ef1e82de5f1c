#pragma once
// Multiple-choice answers: the option letter (A-J) a response commits to.
#include <optional>
#include <string_view>

namespace rbench {

// The letter a response chooses. Tiers in priority order; within a tier the last occurrence wins:
//  1. the last \boxed{C} (also \boxed{\text{(C)}});
//  2. an answer word: simple-evals' "Answer: C" (last match, and "Answer: $C$"), "**Answer:** (C)",
//     "The correct answer is **C**", "the answer is option C", and the answer words of other languages
//     ("答案：C", "Respuesta: C", "Réponse : C", "Antwort: C", ...);
//  3. the final line: one that starts with an option ("C", "(C)", "C) text", "**C**"), names exactly one
//     "(C)", or ends with a lone option ("... so it's B.");
//  4. the last markdown-bold option, **C**.
// Only capital letters count (simple-evals and lighteval score "Answer: c" as wrong), never the pronoun "I"
// or the article "A" ("A good choice is ..."); full-width, Arabic and Bengali option letters map to A-D as
// simple-evals maps them. Nullopt when there is no choice, when reasoning was cut off (<think> without
// </think>), or when the choice is ambiguous: "Answer: A or B", two different boxed letters side by side.
std::optional<char> extract_choice_letter(std::string_view response);

}  // namespace rbench
