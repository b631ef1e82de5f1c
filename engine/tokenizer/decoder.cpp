#include "engine/tokenizer/decoder.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/text.h"

namespace rbench::engine::detail {

namespace {

// "<0x0A>" -> "\n"; anything else is left as it is.
std::string byte_fallback(std::string text) {
  const bool is_byte_token = text.size() == 6 && text.starts_with("<0x") && text.back() == '>' &&
                             std::isxdigit(static_cast<unsigned char>(text[3])) &&
                             std::isxdigit(static_cast<unsigned char>(text[4]));
  if (!is_byte_token) return text;
  return std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
}

std::string strip(std::string text, const std::string& content, size_t start, size_t stop) {
  if (content.empty()) return text;
  for (size_t i = 0; i < start && text.starts_with(content); ++i) text.erase(0, content.size());
  for (size_t i = 0; i < stop && text.ends_with(content); ++i) text.erase(text.size() - content.size());
  return text;
}

}  // namespace

Decoder Decoder::from_json(const nlohmann::json& node, const ConfigField& field) {
  if (node.is_null()) fail(field, "missing; rbench needs a ByteLevel or ByteFallback decoder");
  Decoder decoder;
  decoder.add_steps(node, field);
  return decoder;
}

void Decoder::add_steps(const nlohmann::json& node, const ConfigField& field) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
    fail(field, "expected an object with a type");
  const std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    const auto& children = node.at("decoders");
    for (size_t i = 0; i < children.size(); ++i) add_steps(children[i], (field / "decoders")[i]);
    return;
  }
  if (type == "Fuse") {
    fused_ = true;
    return;
  }
  if (type == "Strip" && fused_) {
    if (node.value("stop", 0) != 0) fail(field / "stop", "stripping the end of the decoded text is not supported");
    leading_strip_ = node.at("content").get<std::string>();
    leading_strip_count_ = node.value("start", 0);
    return;
  }
  // Fuse joins the tokens: what follows would act on the whole text, which only Strip may do here.
  if (fused_) fail(field / "type", "'" + type + "' after Fuse is not supported");
  if (type == "ByteLevel") {
    steps_.push_back(ByteLevel{});
  } else if (type == "ByteFallback") {
    steps_.push_back(ByteFallback{});
  } else if (type == "Replace") {
    const auto& pattern = node.at("pattern");
    if (!pattern.contains("String")) fail(field / "pattern", "only a {\"String\": ...} pattern is supported");
    steps_.push_back(Replace{pattern["String"].get<std::string>(), node.at("content").get<std::string>()});
  } else if (type == "Strip") {
    steps_.push_back(StripEach{node.at("content").get<std::string>(), node.value("start", size_t{0}),
                               node.value("stop", size_t{0})});
  } else {
    fail(field / "type",
         "unsupported decoder '" + type + "' (supported: ByteLevel, Sequence, Replace, ByteFallback, Fuse, Strip)");
  }
}

std::string Decoder::token_bytes(std::string_view spelling) const {
  std::string text(spelling);
  for (const Step& step : steps_) {
    if (std::holds_alternative<ByteLevel>(step)) {
      text = byte_level_to_bytes(text).value_or(text);
    } else if (std::holds_alternative<ByteFallback>(step)) {
      text = byte_fallback(std::move(text));
    } else if (const auto* replace = std::get_if<Replace>(&step)) {
      text = replace_all(text, replace->pattern, replace->content);
    } else {
      const auto& strip_each = std::get<StripEach>(step);
      text = strip(std::move(text), strip_each.content, strip_each.start, strip_each.stop);
    }
  }
  return text;
}

}  // namespace rbench::engine::detail
