#include "engine/tokenizer/added_tokens.h"

#include <algorithm>

#include "engine/tokenizer/text.h"

namespace rbench::engine::detail {

namespace {

// Byte length of the whitespace at the end of `text`.
size_t trailing_whitespace(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (!is_unicode_whitespace(first_code_point(text.substr(start, end - start)))) break;
    end = start;
  }
  return text.size() - end;
}

// Byte length of the whitespace at the start of `text`.
size_t leading_whitespace(std::string_view text) {
  size_t position = 0;
  while (position < text.size()) {
    const size_t length =
        std::min(utf8_char_length(static_cast<unsigned char>(text[position])), text.size() - position);
    if (!is_unicode_whitespace(first_code_point(text.substr(position, length)))) break;
    position += length;
  }
  return position;
}

bool stands_alone(std::string_view text, size_t begin, size_t end) {
  const bool word_before = begin > 0 && is_unicode_alphanumeric(last_code_point(text.substr(0, begin)));
  const bool word_after = end < text.size() && is_unicode_alphanumeric(first_code_point(text.substr(end)));
  return !word_before && !word_after;
}

}  // namespace

void AddedTokenMatcher::add(std::string_view pattern, const AddedToken& token) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    auto& children = nodes_[node].children;
    const auto child =
        std::find_if(children.begin(), children.end(), [&](const auto& edge) { return edge.first == byte; });
    if (child != children.end()) {
      node = child->second;
      continue;
    }
    const auto created = static_cast<int32_t>(nodes_.size());
    children.emplace_back(byte, created);  // `children` may dangle after the next line
    nodes_.emplace_back();
    node = created;
  }
  // A content listed twice keeps its first entry.
  if (nodes_[node].token >= 0) return;
  nodes_[node].token = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(token);
  can_start_[static_cast<unsigned char>(pattern.front())] = true;
}

AddedTokenMatcher::Match AddedTokenMatcher::longest_match_at(std::string_view text, size_t position) const {
  Match longest;
  int32_t node = 0;
  for (size_t i = position; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto& children = nodes_[node].children;
    const auto child =
        std::find_if(children.begin(), children.end(), [&](const auto& edge) { return edge.first == byte; });
    if (child == children.end()) break;
    node = child->second;
    if (nodes_[node].token >= 0) longest = {nodes_[node].token, i + 1};
  }
  return longest;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSegment>& segments) const {
  segments.clear();
  size_t plain_start = 0;
  size_t position = 0;
  while (position < text.size()) {
    if (!can_start_[static_cast<unsigned char>(text[position])]) {
      ++position;
      continue;
    }
    const Match match = longest_match_at(text, position);
    if (match.token < 0) {
      ++position;
      continue;
    }
    const AddedToken& token = tokens_[match.token];
    size_t begin = position;
    size_t end = match.end;
    position = end;
    if (token.single_word && !stands_alone(text, begin, end)) continue;
    if (token.lstrip) begin = std::max(begin - trailing_whitespace(text.substr(0, begin)), plain_start);
    if (token.rstrip) end += leading_whitespace(text.substr(end));
    if (plain_start < begin) segments.push_back({text.substr(plain_start, begin - plain_start), -1});
    segments.push_back({text.substr(begin, end - begin), token.id});
    plain_start = position = end;
  }
  if (plain_start < text.size()) segments.push_back({text.substr(plain_start), -1});
}

}  // namespace rbench::engine::detail
