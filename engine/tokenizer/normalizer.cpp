#include "engine/tokenizer/normalizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace rbench::engine::detail {

namespace {

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  if (pattern.empty()) return std::string(text);
  std::string result;
  size_t position = 0;
  for (size_t found = text.find(pattern); found != std::string_view::npos; found = text.find(pattern, position)) {
    result.append(text.substr(position, found - position)).append(content);
    position = found + pattern.size();
  }
  return result.append(text.substr(position));
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& node, const ConfigField& field) {
  Normalizer normalizer;
  if (!node.is_null()) normalizer.add_steps(node, field);
  return normalizer;
}

void Normalizer::add_steps(const nlohmann::json& node, const ConfigField& field) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) fail(field, "expected an object with a type");
  const std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    const auto& children = node.at("normalizers");
    for (size_t i = 0; i < children.size(); ++i) add_steps(children[i], (field / "normalizers")[i]);
  } else if (type == "NFC") {
    steps_.push_back(UnicodeForm{NormalForm::nfc});
  } else if (type == "NFD") {
    steps_.push_back(UnicodeForm{NormalForm::nfd});
  } else if (type == "NFKC") {
    steps_.push_back(UnicodeForm{NormalForm::nfkc});
  } else if (type == "NFKD") {
    steps_.push_back(UnicodeForm{NormalForm::nfkd});
  } else if (type == "Prepend") {
    steps_.push_back(Prepend{node.at("prepend").get<std::string>()});
  } else if (type == "Replace") {
    const auto& pattern = node.at("pattern");
    if (!pattern.contains("String")) fail(field / "pattern", "only a {\"String\": ...} pattern is supported");
    steps_.push_back(Replace{pattern["String"].get<std::string>(), node.at("content").get<std::string>()});
  } else {
    fail(field / "type", "unsupported normalizer '" + type +
                             "' (supported: Sequence, NFC, NFD, NFKC, NFKD, Prepend, Replace)");
  }
}

std::string Normalizer::apply(std::string_view valid_utf8) const {
  std::string text(valid_utf8);
  for (const Step& step : steps_) {
    if (const auto* unicode = std::get_if<UnicodeForm>(&step)) {
      // Every normal form leaves ASCII as it is, and most text is ASCII.
      if (!is_ascii(text)) text = normalize_unicode(text, unicode->form);
    } else if (const auto* prepend = std::get_if<Prepend>(&step)) {
      if (!text.empty()) text.insert(0, prepend->text);
    } else {
      const auto& replace = std::get<Replace>(step);
      text = replace_all(text, replace.pattern, replace.content);
    }
  }
  return text;
}

}  // namespace rbench::engine::detail
