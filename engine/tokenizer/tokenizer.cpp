#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/config_error.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/text.h"

namespace rbench::engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace detail {

struct TokenizerData {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel model;
  Decoder decoder;
  AddedTokenMatcher raw_added_tokens;         // matched in the text as given
  AddedTokenMatcher normalized_added_tokens;  // matched in the normalised text
  StringMap<int32_t> added_token_ids;
  size_t vocab_size = 0;
  // The bytes of token `id` are token_bytes[token_offsets[id] .. token_offsets[id + 1]).
  std::string token_bytes;
  std::vector<uint32_t> token_offsets;
  std::vector<uint8_t> token_kinds;      // TokenKind of each id
  std::vector<int32_t> sequence_prefix;  // what add_special_tokens puts around a sequence
  std::vector<int32_t> sequence_suffix;
  std::string bos_token;
  std::string eos_token;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::string chat_template;
};

}  // namespace detail

namespace {

using detail::AddedToken;
using detail::ConfigField;
using detail::fail;
using detail::TokenizerData;

enum TokenKind : uint8_t { kUnused = 0, kRegular = 1, kSpecial = 2 };

json read_json(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UserError(path.string() + ": cannot be read");
  std::stringstream content;
  content << file.rdbuf();
  try {
    return json::parse(content.str());
  } catch (const json::parse_error& error) {
    throw UserError(path.string() + ": not valid JSON: " + error.what());
  }
}

// A tokenizer_config.json token: a string, {"content": ...} or null.
std::string config_token_text(const json& config, const char* key) {
  const auto value = config.find(key);
  if (value == config.end()) return "";
  if (value->is_string()) return value->get<std::string>();
  if (value->is_object() && value->contains("content")) return (*value)["content"].get<std::string>();
  return "";
}

std::vector<AddedToken> read_added_tokens(const json& root, const ConfigField& field) {
  std::vector<AddedToken> tokens;
  const auto list = root.find("added_tokens");
  if (list == root.end() || list->is_null()) return tokens;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    if (!entry.contains("id") || !entry.contains("content") || entry["id"].get<int64_t>() < 0) {
      fail(field[i], "expected an id and a content");
    }
    tokens.push_back(AddedToken{entry["content"].get<std::string>(), entry["id"].get<int32_t>(),
                                entry.value("special", false), entry.value("single_word", false),
                                entry.value("lstrip", false), entry.value("rstrip", false),
                                entry.value("normalized", false)});
  }
  return tokens;
}

void register_added_tokens(const std::vector<AddedToken>& tokens, TokenizerData& data) {
  for (const AddedToken& token : tokens) {
    data.added_token_ids.emplace(token.content, token.id);
    if (token.normalized) {
      data.normalized_added_tokens.add(data.normalizer.apply(token.content), token);
    } else {
      data.raw_added_tokens.add(token.content, token);
    }
  }
}

// Every id's spelling goes through the decoder once, so decoding is a lookup.
void build_token_bytes(const json& vocab, const std::vector<AddedToken>& added_tokens, TokenizerData& data) {
  std::vector<std::string> spellings(data.vocab_size);
  data.token_kinds.assign(data.vocab_size, kUnused);
  for (const auto& [spelling, id] : vocab.items()) {
    spellings[id.get<size_t>()] = spelling;
    data.token_kinds[id.get<size_t>()] = kRegular;
  }
  for (const AddedToken& token : added_tokens) {
    spellings[token.id] = token.content;
    data.token_kinds[token.id] = token.special ? kSpecial : kRegular;
  }
  data.token_offsets.reserve(data.vocab_size + 1);
  data.token_offsets.push_back(0);
  for (const std::string& spelling : spellings) {
    data.token_bytes += data.decoder.token_bytes(spelling);
    data.token_offsets.push_back(static_cast<uint32_t>(data.token_bytes.size()));
  }
}

// The ids a post-processor adds before and after a single sequence.
void read_post_processor(const json& node, const ConfigField& field, TokenizerData& data) {
  if (node.is_null()) return;
  const std::string type = node.value("type", "");
  if (type == "ByteLevel") return;  // only adjusts offsets
  if (type == "Sequence") {
    const json& children = node.at("processors");
    for (size_t i = 0; i < children.size(); ++i) read_post_processor(children[i], (field / "processors")[i], data);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    data.sequence_prefix = {node.at("cls").at(1).get<int32_t>()};
    data.sequence_suffix = {node.at("sep").at(1).get<int32_t>()};
    return;
  }
  if (type != "TemplateProcessing") fail(field / "type", "unsupported post-processor '" + type + "'");
  data.sequence_prefix.clear();
  data.sequence_suffix.clear();
  bool after_sequence = false;
  for (const json& piece : node.at("single")) {
    if (piece.contains("Sequence")) {
      after_sequence = true;
      continue;
    }
    const std::string name = piece.at("SpecialToken").at("id").get<std::string>();
    const auto ids = node.at("special_tokens").at(name).at("ids").get<std::vector<int32_t>>();
    auto& target = after_sequence ? data.sequence_suffix : data.sequence_prefix;
    target.insert(target.end(), ids.begin(), ids.end());
  }
}

std::string chat_template_of(const json& config, const fs::path& config_path) {
  const auto value = config.find("chat_template");
  if (value != config.end() && value->is_string()) return value->get<std::string>();
  // Several named templates: the one named "default", else the first.
  if (value != config.end() && value->is_array() && !value->empty()) {
    for (const json& named : *value) {
      if (named.value("name", "") == "default") return named.value("template", "");
    }
    return value->front().value("template", "");
  }
  // Newer checkpoints keep the template in a file of its own.
  std::ifstream file(config_path.parent_path() / "chat_template.jinja", std::ios::binary);
  if (!file) return "";
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void read_tokenizer_config(const fs::path& path, TokenizerData& data, const Tokenizer& tokenizer) {
  const json config = read_json(path);
  data.bos_token = config_token_text(config, "bos_token");
  data.eos_token = config_token_text(config, "eos_token");
  if (!data.bos_token.empty()) data.bos_id = tokenizer.token_id(data.bos_token);
  if (!data.eos_token.empty()) data.eos_id = tokenizer.token_id(data.eos_token);
  // transformers' Llama tokenizers rebuild the post-processor from these two flags.
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
    data.sequence_prefix.clear();
    if (config["add_bos_token"].get<bool>() && data.bos_id) data.sequence_prefix.push_back(*data.bos_id);
  }
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
    data.sequence_suffix.clear();
    if (config["add_eos_token"].get<bool>() && data.eos_id) data.sequence_suffix.push_back(*data.eos_id);
  }
  data.chat_template = chat_template_of(config, path);
}

void read_tokenizer_json(const fs::path& path, TokenizerData& data) {
  const json root = read_json(path);
  const std::string file = path.string();
  if (!root.is_object() || !root.contains("model")) fail({file, "model"}, "missing");
  data.normalizer = detail::Normalizer::from_json(root.value("normalizer", json()), {file, "normalizer"});
  data.pre_tokenizer = detail::PreTokenizer::from_json(root.value("pre_tokenizer", json()), {file, "pre_tokenizer"});
  data.model = detail::BpeModel::from_json(root["model"], data.pre_tokenizer.byte_level(), {file, "model"});
  data.decoder = detail::Decoder::from_json(root.value("decoder", json()), {file, "decoder"});
  const std::vector<AddedToken> added_tokens = read_added_tokens(root, {file, "added_tokens"});
  register_added_tokens(added_tokens, data);
  data.vocab_size = data.model.size();
  for (const AddedToken& token : added_tokens) {
    data.vocab_size = std::max(data.vocab_size, static_cast<size_t>(token.id) + 1);
  }
  build_token_bytes(root["model"]["vocab"], added_tokens, data);
  read_post_processor(root.value("post_processor", json()), {file, "post_processor"}, data);
}

// The tokenizer_config.json that goes with a tokenizer.json: "NAME.tokenizer_config.json" for
// "NAME.tokenizer.json", else "tokenizer_config.json" in the same directory.
std::optional<fs::path> config_beside(const fs::path& tokenizer_json) {
  const std::string name = tokenizer_json.filename().string();
  const std::string suffix = "tokenizer.json";
  if (name.size() > suffix.size() && name.ends_with(suffix)) {
    const fs::path prefixed =
        tokenizer_json.parent_path() / (name.substr(0, name.size() - suffix.size()) + "tokenizer_config.json");
    if (fs::exists(prefixed)) return prefixed;
  }
  const fs::path plain = tokenizer_json.parent_path() / "tokenizer_config.json";
  if (fs::exists(plain)) return plain;
  return std::nullopt;
}

void encode_plain_text(const TokenizerData& data, std::string_view text, std::vector<int32_t>& ids) {
  std::string normalized_storage;
  std::string_view normalized = text;
  if (!data.normalizer.changes_nothing()) {
    normalized_storage = data.normalizer.apply(text);
    normalized = normalized_storage;
  }
  std::vector<detail::TextSegment> segments;
  if (data.normalized_added_tokens.empty()) {
    segments.push_back({normalized, -1});
  } else {
    data.normalized_added_tokens.split(normalized, segments);
  }
  std::vector<std::string_view> pieces;
  std::deque<std::string> piece_storage;
  for (const detail::TextSegment& segment : segments) {
    if (segment.token_id >= 0) {
      ids.push_back(segment.token_id);
      continue;
    }
    data.pre_tokenizer.split(segment.text, pieces, piece_storage);
    for (std::string_view piece : pieces) data.model.encode(piece, ids);
  }
}

// Removes the characters the decoder strips from the start of the text; `strips_left` carries over
// between calls of a streaming decoder. False while `bytes` may be the beginning of a stripped character.
bool strip_text_start(const detail::Decoder& decoder, std::string& bytes, size_t& strips_left) {
  const std::string& content = decoder.leading_strip();
  while (strips_left > 0 && !bytes.empty()) {
    if (bytes.starts_with(content)) {
      bytes.erase(0, content.size());
      --strips_left;
    } else if (content.starts_with(bytes)) {
      return false;
    } else {
      strips_left = 0;
    }
  }
  return true;
}

bool should_decode(const TokenizerData& data, int32_t id, bool skip_special_tokens) {
  if (id < 0 || static_cast<size_t>(id) >= data.vocab_size) return false;
  const uint8_t kind = data.token_kinds[id];
  return kind == kRegular || (kind == kSpecial && !skip_special_tokens);
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const detail::TokenizerData> data) : data_(std::move(data)) {}

Tokenizer Tokenizer::load(const fs::path& path) {
  if (fs::is_directory(path)) {
    const fs::path tokenizer_json = path / "tokenizer.json";
    if (!fs::exists(tokenizer_json)) throw UserError(path.string() + ": the model directory holds no tokenizer.json");
    const fs::path config = path / "tokenizer_config.json";
    return fs::exists(config) ? load(tokenizer_json, config) : load(tokenizer_json, fs::path());
  }
  if (!fs::exists(path)) throw UserError(path.string() + ": no such tokenizer.json or model directory");
  return load(path, config_beside(path).value_or(fs::path()));
}

Tokenizer Tokenizer::load(const fs::path& tokenizer_json, const fs::path& tokenizer_config) {
  auto data = std::make_shared<TokenizerData>();
  const fs::path* reading = &tokenizer_json;
  try {
    read_tokenizer_json(tokenizer_json, *data);
    if (!tokenizer_config.empty()) {
      reading = &tokenizer_config;
      // bos/eos are looked up through a Tokenizer over the tables read so far.
      read_tokenizer_config(tokenizer_config, *data, Tokenizer(data));
    }
  } catch (const json::exception& error) {
    throw UserError(reading->string() + ": unexpected content: " + error.what());
  }
  return Tokenizer(std::move(data));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (!detail::is_valid_utf8(text)) {
    repaired = detail::to_valid_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<detail::TextSegment> segments;
  if (data_->raw_added_tokens.empty()) {
    segments.push_back({text, -1});
  } else {
    data_->raw_added_tokens.split(text, segments);
  }
  for (const detail::TextSegment& segment : segments) {
    if (segment.token_id >= 0) {
      ids.push_back(segment.token_id);
    } else {
      encode_plain_text(*data_, segment.text, ids);
    }
  }
  if (!add_special_tokens) return ids;
  // A rendered chat template already starts with BOS; a second one would change the model's input.
  const auto& prefix = data_->sequence_prefix;
  const bool has_prefix = ids.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), ids.begin());
  if (!has_prefix) ids.insert(ids.begin(), prefix.begin(), prefix.end());
  ids.insert(ids.end(), data_->sequence_suffix.begin(), data_->sequence_suffix.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (should_decode(*data_, id, skip_special_tokens)) bytes += token_bytes(id);
  }
  size_t strips_left = data_->decoder.leading_strip_count();
  strip_text_start(data_->decoder, bytes, strips_left);
  return detail::to_valid_utf8(bytes);
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  const auto added = data_->added_token_ids.find(token);
  if (added != data_->added_token_ids.end()) return added->second;
  return data_->model.token_id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < data_->vocab_size && data_->token_kinds[id] == kSpecial;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= data_->vocab_size) return {};
  const uint32_t begin = data_->token_offsets[id];
  return std::string_view(data_->token_bytes).substr(begin, data_->token_offsets[id + 1] - begin);
}

size_t Tokenizer::vocab_size() const { return data_->vocab_size; }
std::optional<int32_t> Tokenizer::bos_id() const { return data_->bos_id; }
std::optional<int32_t> Tokenizer::eos_id() const { return data_->eos_id; }
const std::string& Tokenizer::bos_token() const { return data_->bos_token; }
const std::string& Tokenizer::eos_token() const { return data_->eos_token; }
const std::string& Tokenizer::chat_template() const { return data_->chat_template; }

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer),
      skip_special_tokens_(skip_special_tokens),
      leading_strips_left_(tokenizer.data_->decoder.leading_strip_count()) {}

std::string StreamingDecoder::push(int32_t id) {
  if (!should_decode(*tokenizer_.data_, id, skip_special_tokens_)) return "";
  pending_ += tokenizer_.token_bytes(id);
  if (!strip_text_start(tokenizer_.data_->decoder, pending_, leading_strips_left_)) return "";
  const size_t complete = pending_.size() - detail::unfinished_utf8_tail(pending_);
  std::string text = detail::to_valid_utf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return text;
}

std::string StreamingDecoder::finish() {
  std::string text = detail::to_valid_utf8(pending_);
  pending_.clear();
  return text;
}

}  // namespace rbench::engine
