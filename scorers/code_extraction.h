#pragma once
// The program a response gives: which fenced block counts, and in which language.
#include <optional>
#include <string>
#include <string_view>

namespace rbench {

enum class CodeLanguage { python, cpp };

struct ExtractedCode {
  std::string code;  // LF line endings, without the fences
  CodeLanguage language = CodeLanguage::python;
};

struct ExtractionRules {
  bool accept_cpp = false;  // LiveCodeBench stdin problems: a C++ program is run as C++
  // HumanEval asks for "only the code": with no fenced block and no [BEGIN] ... [DONE], the whole
  // response is the program (simple-evals' fallback).
  bool whole_response_when_unfenced = false;
};

// Rules, in order (CRLF is read as LF first):
//  1. Fenced blocks as CommonMark writes them: a line of three or more backticks (indented at most three
//     spaces) opens one, the first word of its info string is the language, and a line of at least as
//     many backticks and nothing else closes it. A block still open at the end (a cut-off response)
//     is not code.
//  2. The last block tagged `python`, `py` or `python3` (or, with accept_cpp, `cpp`, `c++` or `cxx`).
//     The last, as LiveCodeBench takes the last block: a model's final answer comes last.
//  3. With no such block, the only untagged block, when there is exactly one; it is taken as Python.
//  4. With no fenced block at all, the text between the last `[BEGIN]` and the `[DONE]` after it
//     (the delimiters of MBPP's prompt).
//  5. Then, only with whole_response_when_unfenced and no fence at all, the whole response.
// Nullopt when no rule finds code, or the code found is blank: the response has no program.
std::optional<ExtractedCode> extract_code(std::string_view response, const ExtractionRules& rules);

}  // namespace rbench
