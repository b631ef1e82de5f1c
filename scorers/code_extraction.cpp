#include "scorers/code_extraction.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace rbench {

namespace {

enum class BlockTag { python, cpp, untagged, other };

struct FencedBlock {
  BlockTag tag = BlockTag::untagged;
  std::string code;
};

struct Fence {
  size_t backticks = 0;
  std::string_view info;  // after the backticks, trimmed
};

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// A fence line: at most three spaces, then three or more backticks; the info string holds no backtick
// (so "```x = 1```" on one line is inline code, not a fence).
std::optional<Fence> fence_of(std::string_view line) {
  size_t indent = 0;
  while (indent < line.size() && indent < 4 && line[indent] == ' ') ++indent;
  if (indent > 3) return std::nullopt;
  size_t end = indent;
  while (end < line.size() && line[end] == '`') ++end;
  const size_t backticks = end - indent;
  if (backticks < 3) return std::nullopt;
  const std::string_view info = trim(line.substr(end));
  if (info.find('`') != std::string_view::npos) return std::nullopt;
  return Fence{backticks, info};
}

BlockTag tag_of(std::string_view info) {
  const std::string_view word = info.substr(0, std::min(info.find_first_of(" \t{"), info.size()));
  std::string language(word);
  std::transform(language.begin(), language.end(), language.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  if (language.empty()) return BlockTag::untagged;
  if (language == "python" || language == "py" || language == "python3") return BlockTag::python;
  if (language == "cpp" || language == "c++" || language == "cxx") return BlockTag::cpp;
  return BlockTag::other;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Closed fenced blocks, in order. Sets `saw_fence` when any fence line opened a block.
std::vector<FencedBlock> fenced_blocks(std::string_view text, bool& saw_fence) {
  std::vector<FencedBlock> blocks;
  std::optional<Fence> open;
  FencedBlock current;
  for (const std::string_view line : split_lines(text)) {
    const std::optional<Fence> fence = fence_of(line);
    if (!open) {
      if (!fence) continue;
      saw_fence = true;
      open = fence;
      current = FencedBlock{tag_of(fence->info), ""};
      continue;
    }
    if (fence && fence->info.empty() && fence->backticks >= open->backticks) {
      blocks.push_back(std::move(current));
      open.reset();
      continue;
    }
    current.code.append(line);
    current.code.push_back('\n');
  }
  return blocks;
}

std::optional<std::string> begin_done_block(std::string_view text) {
  constexpr std::string_view kBegin = "[BEGIN]", kDone = "[DONE]";
  const size_t begin = text.rfind(kBegin);
  if (begin == std::string_view::npos) return std::nullopt;
  const size_t start = begin + kBegin.size();
  const size_t done = text.find(kDone, start);
  if (done == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(start, done - start));
}

std::optional<ExtractedCode> nonblank(std::string code, CodeLanguage language) {
  if (is_blank(code)) return std::nullopt;
  return ExtractedCode{std::move(code), language};
}

}  // namespace

std::optional<ExtractedCode> extract_code(std::string_view response, const ExtractionRules& rules) {
  std::string text;
  text.reserve(response.size());
  for (size_t i = 0; i < response.size(); ++i) {
    if (response[i] != '\r' || i + 1 >= response.size() || response[i + 1] != '\n') text.push_back(response[i]);
  }

  bool saw_fence = false;
  const std::vector<FencedBlock> blocks = fenced_blocks(text, saw_fence);
  for (auto block = blocks.rbegin(); block != blocks.rend(); ++block) {
    if (block->tag == BlockTag::python) return nonblank(block->code, CodeLanguage::python);
    if (block->tag == BlockTag::cpp && rules.accept_cpp) return nonblank(block->code, CodeLanguage::cpp);
  }
  const auto untagged = std::count_if(blocks.begin(), blocks.end(),
                                      [](const FencedBlock& block) { return block.tag == BlockTag::untagged; });
  if (untagged == 1) {
    const auto only = std::find_if(blocks.begin(), blocks.end(),
                                   [](const FencedBlock& block) { return block.tag == BlockTag::untagged; });
    return nonblank(only->code, CodeLanguage::python);
  }
  if (saw_fence) return std::nullopt;
  if (auto delimited = begin_done_block(text)) return nonblank(std::move(*delimited), CodeLanguage::python);
  if (rules.whole_response_when_unfenced) return nonblank(std::move(text), CodeLanguage::python);
  return std::nullopt;
}

}  // namespace rbench
