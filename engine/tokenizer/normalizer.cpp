#include "engine/tokenizer/normalizer.h"

#include <nlohmann/json.hpp>

namespace rbench::engine::detail {

Normalizer Normalizer::from_json(const nlohmann::json& node, const ConfigField& field) {
  Normalizer normalizer;
  if (!node.is_null()) normalizer.add_steps(node, field);
  return normalizer;
}

void Normalizer::add_steps(const nlohmann::json& node, const ConfigField& field) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
    fail(field, "expected an object with a type");
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
    fail(field / "type",
         "unsupported normalizer '" + type + "' (supported: Sequence, NFC, NFD, NFKC, NFKD, Prepend, Replace)");
  }
}

std::string Normalizer::apply(std::string_view valid_utf8) const {
  std::string text(valid_utf8);
  for (const Step& step : steps_) {
    if (const auto* unicode = std::get_if<UnicodeForm>(&step)) {
      text = normalize_unicode(text, unicode->form);
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
