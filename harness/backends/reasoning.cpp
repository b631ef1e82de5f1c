#include "harness/backends/reasoning.h"

namespace rbench {

namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

ReasoningSplit split_reasoning(std::string_view text, bool starts_in_think) {
  std::string_view body = text;
  const std::string_view leading = trim(text);
  bool in_think = starts_in_think;
  if (leading.starts_with(kOpen)) {
    body = leading.substr(kOpen.size());
    in_think = true;
  }
  if (!in_think) return {"", std::string(trim(text)), false};

  const size_t close = body.find(kClose);
  if (close == std::string_view::npos) return {std::string(trim(body)), "", true};
  return {std::string(trim(body.substr(0, close))), std::string(trim(body.substr(close + kClose.size()))), false};
}

}  // namespace rbench
