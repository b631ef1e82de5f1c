#pragma once
// Splits a raw completion into its <think> reasoning and the final answer.
#include <string>
#include <string_view>

namespace rbench {

struct ReasoningSplit {
  std::string reasoning;
  std::string answer;      // "" when the reasoning never closed: an unfinished think has no answer
  bool unclosed = false;   // the text ended inside <think>
};

// `starts_in_think`: the prompt was prefilled with "<think>\n", so the text begins inside the block.
ReasoningSplit split_reasoning(std::string_view text, bool starts_in_think);

}  // namespace rbench
