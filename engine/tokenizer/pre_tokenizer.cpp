#include "engine/tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace rbench::engine::detail {

namespace {

// GPT-2's split, used by ByteLevel when `use_regex` is true.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Segment {
  size_t begin = 0;
  size_t end = 0;
  bool is_match = false;
};

std::string string_field(const nlohmann::json& node, const std::string& key, const ConfigField& field) {
  const auto value = node.find(key);
  if (value == node.end() || !value->is_string()) fail(field / key, "expected a string");
  return value->get<std::string>();
}

bool bool_field(const nlohmann::json& node, const std::string& key, bool fallback) {
  const auto value = node.find(key);
  return (value == node.end() || !value->is_boolean()) ? fallback : value->get<bool>();
}

SplitBehavior parse_behavior(const std::string& name, const ConfigField& field) {
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  fail(field, "unknown split behavior '" + name + "'");
}

std::shared_ptr<const UnicodeRegex> compile(const std::string& pattern, bool literal, const ConfigField& field) {
  try {
    return std::make_shared<const UnicodeRegex>(pattern, literal);
  } catch (const std::invalid_argument& error) {
    fail(field, error.what());
  }
}

// The matches and the text between them, covering `length` bytes (Hugging Face's find_matches).
void segment(const std::vector<MatchRange>& matches, size_t length, bool invert, std::vector<Segment>& segments) {
  segments.clear();
  size_t previous_end = 0;
  for (const MatchRange& match : matches) {
    if (previous_end != match.begin) segments.push_back({previous_end, match.begin, invert});
    segments.push_back({match.begin, match.end, !invert});
    previous_end = match.end;
  }
  if (previous_end != length || segments.empty()) segments.push_back({previous_end, length, invert});
}

// Applies a behavior to the segments in place; what is left are the pieces (is_match no longer matters).
// Mirrors SplitDelimiterBehavior in Hugging Face's normalizer.rs, quirks included: MergedWithPrevious
// attaches a match to the text before it but not to a match before it.
void apply_behavior(SplitBehavior behavior, std::vector<Segment>& segments) {
  if (behavior == SplitBehavior::isolated) return;
  std::vector<Segment> merged;
  merged.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::isolated:
      break;
    case SplitBehavior::removed:
      for (const Segment& segment : segments) {
        if (!segment.is_match) merged.push_back(segment);
      }
      break;
    case SplitBehavior::merged_with_previous:
      for (const Segment& segment : segments) {
        if (segment.is_match && !previous_match && !merged.empty()) {
          merged.back().end = segment.end;
        } else {
          merged.push_back(segment);
        }
        previous_match = segment.is_match;
      }
      break;
    case SplitBehavior::merged_with_next:
      for (auto segment = segments.rbegin(); segment != segments.rend(); ++segment) {
        if (segment->is_match && !previous_match && !merged.empty()) {
          merged.back().begin = segment->begin;
        } else {
          merged.push_back(*segment);
        }
        previous_match = segment->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case SplitBehavior::contiguous:
      for (const Segment& segment : segments) {
        if (segment.is_match == previous_match && !merged.empty()) {
          merged.back().end = segment.end;
        } else {
          merged.push_back(segment);
        }
        previous_match = segment.is_match;
      }
      break;
  }
  segments.swap(merged);
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const nlohmann::json& node, const ConfigField& field) {
  PreTokenizer pre_tokenizer;
  if (!node.is_null()) pre_tokenizer.add_steps(node, field);
  return pre_tokenizer;
}

void PreTokenizer::add_steps(const nlohmann::json& node, const ConfigField& field) {
  if (!node.is_object()) fail(field, "expected an object");
  // Splits after ByteLevel would see its alphabet instead of the text; no known tokenizer does that.
  if (byte_level_) fail(field, "a pre-tokenizer after ByteLevel is not supported");
  const std::string type = string_field(node, "type", field);
  if (type == "Sequence") {
    const auto& children = node.at("pretokenizers");
    for (size_t i = 0; i < children.size(); ++i) add_steps(children[i], (field / "pretokenizers")[i]);
  } else if (type == "Split") {
    const auto& pattern = node.at("pattern");
    const bool is_regex = pattern.contains("Regex");
    if (!is_regex && !pattern.contains("String"))
      fail(field / "pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    const std::string text = pattern.at(is_regex ? "Regex" : "String").get<std::string>();
    steps_.push_back(RegexSplit{compile(text, !is_regex, field / "pattern"),
                                parse_behavior(string_field(node, "behavior", field), field / "behavior"),
                                bool_field(node, "invert", false)});
  } else if (type == "ByteLevel") {
    add_byte_level(node, field);
  } else if (type == "Digits") {
    const bool individual = bool_field(node, "individual_digits", false);
    steps_.push_back(RegexSplit{compile(R"(\p{N})", false, field),
                                individual ? SplitBehavior::isolated : SplitBehavior::contiguous, false});
  } else {
    fail(field / "type", "unsupported pre-tokenizer '" + type + "' (supported: Sequence, Split, ByteLevel, Digits)");
  }
}

void PreTokenizer::add_byte_level(const nlohmann::json& node, const ConfigField& field) {
  if (bool_field(node, "add_prefix_space", true)) steps_.push_back(PrefixSpace{});
  if (bool_field(node, "use_regex", true)) {
    steps_.push_back(RegexSplit{compile(kGpt2Pattern, false, field), SplitBehavior::isolated, false});
  }
  byte_level_ = true;
}

void PreTokenizer::apply(const RegexSplit& step, std::string_view piece, std::vector<std::string_view>& out) {
  thread_local std::vector<MatchRange> matches;
  thread_local std::vector<Segment> segments;
  matches.clear();
  step.regex->find_all(piece, matches);
  segment(matches, piece.size(), step.invert, segments);
  apply_behavior(step.behavior, segments);
  for (const Segment& part : segments) {
    if (part.end > part.begin) out.push_back(piece.substr(part.begin, part.end - part.begin));
  }
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces,
                         std::deque<std::string>& storage) const {
  pieces.clear();
  if (!text.empty()) pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const Step& step : steps_) {
    next.clear();
    for (std::string_view piece : pieces) {
      if (const auto* regex_split = std::get_if<RegexSplit>(&step)) {
        apply(*regex_split, piece, next);
      } else if (piece.starts_with(' ')) {
        next.push_back(piece);
      } else {
        next.push_back(storage.emplace_back(" " + std::string(piece)));
      }
    }
    pieces.swap(next);
  }
}

}  // namespace rbench::engine::detail
