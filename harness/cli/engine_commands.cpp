// rbench tokenize | forward | generate: the engine's stable JSON interfaces (DESIGN.md).
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "engine/model/model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "harness/cli/commands.h"

namespace rbench::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& text, const char* flag) {
  std::vector<int32_t> ids;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      size_t used = 0;
      const long value = std::stol(item, &used);
      if (used != item.size() || value < 0 || value > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(value));
    } catch (const std::exception&) {
      throw UserError(fmt::format("{}: '{}' is not a token id (expected comma-separated non-negative integers)", flag,
                                  item));
    }
  }
  if (ids.empty()) throw UserError(fmt::format("{}: no token ids given", flag));
  return ids;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void require_cpu(const std::string& device) {
  if (device != "cpu") {
    throw UserError(fmt::format("--device {}: only the cpu device is available in this build of the engine", device));
  }
}

// The prompt ids of a generate command: --ids, or --prompt encoded (through the chat template with --chat).
// `tokenizer` is only null when --ids is given.
std::vector<int32_t> prompt_ids(const EngineCommand& command, const engine::Tokenizer* tokenizer) {
  if (!command.ids.empty()) return parse_ids(command.ids, "--ids");
  if (!command.chat) return tokenizer->encode(command.prompt, true);
  const auto chat = engine::ChatTemplate::from_tokenizer(*tokenizer);
  const std::vector<engine::ChatTurn> turns = {{"user", command.prompt}};
  return tokenizer->encode(chat.render(turns), true);
}

}  // namespace

int tokenize(const EngineCommand& command) {
  const auto tokenizer = engine::Tokenizer::load(command.tokenizer);
  if (!command.decode_ids.empty()) {
    std::cout << nlohmann::json{{"text", tokenizer.decode(parse_ids(command.decode_ids, "--decode"))}}.dump() << "\n";
    return 0;
  }
  const std::string text = command.text_file.empty() ? command.text : read_text_file(command.text_file);
  std::cout << nlohmann::json{{"ids", tokenizer.encode(text, false)}}.dump() << "\n";
  return 0;
}

int forward(const EngineCommand& command) {
  require_cpu(command.device);
  const auto model = engine::Model::load(command.model);
  const std::vector<int32_t> ids = parse_ids(command.ids, "--ids");
  const auto cache = model->new_cache();
  const engine::SequenceStep step{ids, cache.get(), true};
  const auto logits = model->forward(std::span(&step, 1));
  nlohmann::json rows = nlohmann::json::array();
  for (size_t r = 0; r < logits[0].rows(); ++r) {
    const auto row = logits[0].row_span(r);
    rows.push_back(std::vector<float>(row.begin(), row.end()));
  }
  std::cout << nlohmann::json{{"logits", rows}}.dump() << "\n";
  return 0;
}

int generate(const EngineCommand& command) {
  require_cpu(command.device);
  const auto model = engine::Model::load(command.model);
  const bool needs_tokenizer = command.ids.empty();
  std::optional<engine::Tokenizer> tokenizer;
  if (needs_tokenizer || !command.ignore_eos) {
    try {
      tokenizer = engine::Tokenizer::load(command.model);
    } catch (const UserError&) {
      if (needs_tokenizer) throw;  // with --ids the tokenizer is only for EOS and text
    }
  }
  engine::GenerationParams params;
  params.sampling = {command.greedy, static_cast<float>(command.temperature), static_cast<float>(command.top_p), 0,
                     0.0f, command.seed};
  params.max_new_tokens = command.max_tokens;
  params.ignore_eos = command.ignore_eos;
  if (tokenizer && tokenizer->eos_id()) params.stop_token_ids.push_back(*tokenizer->eos_id());
  if (const auto eos = model->config().eos_token_ids; !eos.empty()) {
    params.stop_token_ids.insert(params.stop_token_ids.end(), eos.begin(), eos.end());
  }

  const engine::Tokenizer* text_tokenizer = tokenizer ? &*tokenizer : nullptr;
  engine::Generator generator(*model, text_tokenizer, {1});
  const engine::Completion completion = generator.generate(prompt_ids(command, text_tokenizer), params);
  if (completion.finish_reason == "error") throw UserError(completion.error);
  nlohmann::json out{{"ids", completion.tokens}, {"finish_reason", completion.finish_reason}};
  if (tokenizer) out["text"] = completion.text;
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace rbench::cli
