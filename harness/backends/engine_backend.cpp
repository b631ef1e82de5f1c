#include "harness/backends/engine_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/error.h"
#include "common/hash.h"
#include "engine/runtime/batch_model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "harness/backends/reasoning.h"

namespace rbench {

namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kWholeHashLimit = 2ULL << 30;
constexpr std::streamsize kSampledBytes = 16 << 20;

std::vector<fs::path> weight_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void hash_range(Sha256& hash, std::ifstream& in, std::streamoff offset, std::streamsize size) {
  std::string buffer(static_cast<size_t>(size), '\0');
  in.seekg(offset);
  in.read(buffer.data(), size);
  hash.update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
}

// Several answers: generation_config.json may give eos_token_id as a number or a list.
std::vector<int32_t> stop_ids(const fs::path& dir, const engine::Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  if (tokenizer.eos_id()) ids.push_back(*tokenizer.eos_id());
  std::ifstream in(dir / "generation_config.json");
  if (!in) return ids;
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(fmt::format("{}: not valid JSON ({})", (dir / "generation_config.json").string(), e.what()));
  }
  const auto eos = config.find("eos_token_id");
  if (eos == config.end()) return ids;
  const auto add = [&](const nlohmann::json& value) {
    if (!value.is_number_integer()) {
      throw UserError(fmt::format("{}: eos_token_id must be an integer or a list of integers",
                                  (dir / "generation_config.json").string()));
    }
    ids.push_back(value.get<int32_t>());
  };
  if (eos->is_array()) {
    for (const auto& value : *eos) add(value);
  } else if (!eos->is_null()) {
    add(*eos);
  }
  return ids;
}

class EngineBackend final : public Backend {
 public:
  EngineBackend(const fs::path& dir, const EngineBackendOptions& options)
      : dir_(dir),
        model_(engine::open_batch_model(dir, options.device, options.max_batch)),
        tokenizer_(engine::Tokenizer::load(dir)),
        chat_(engine::ChatTemplate::from_tokenizer(tokenizer_, options.chat_family)),
        stop_ids_(stop_ids(dir, tokenizer_)),
        think_end_(tokenizer_.token_id("</think>")),
        max_batch_(options.max_batch),
        weights_hash_(checkpoint_fingerprint(dir)),
        generator_(*model_, &tokenizer_, {options.max_batch}) {}

  ModelIdentity identity() const override {
    return {fs::absolute(dir_).lexically_normal().filename().string(), "engine", fs::absolute(dir_).string(),
            weights_hash_};
  }

  int max_concurrency() const override { return max_batch_; }

  GenerationResult generate(const GenerationRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    std::vector<int32_t> prompt = request.prompt_ids;
    if (prompt.empty()) {
      std::vector<engine::ChatTurn> turns;
      for (const auto& message : request.messages) turns.push_back({message.role, message.content});
      const std::string text = chat_.render(turns, {true, request.assistant_prefill});
      prompt = tokenizer_.encode(text, true);
    }
    engine::GenerationParams params;
    params.sampling.temperature = static_cast<float>(request.sampling.temperature);
    params.sampling.top_p = static_cast<float>(request.sampling.top_p);
    params.sampling.seed = request.sampling.seed ? *request.sampling.seed : std::random_device{}();
    params.max_new_tokens = request.sampling.max_tokens;
    params.stop_token_ids = stop_ids_;
    params.cancelled = request.cancelled;
    const engine::Completion completion = generator_.generate(prompt, params);
    return to_result(request, prompt, completion, start);
  }

 private:
  GenerationResult to_result(const GenerationRequest& request, const std::vector<int32_t>& prompt,
                             const engine::Completion& completion,
                             std::chrono::steady_clock::time_point start) const {
    GenerationResult result;
    result.finish_reason = completion.finish_reason;
    result.error = completion.error;
    const bool starts_in_think = request.assistant_prefill.find("<think>") != std::string::npos;
    ReasoningSplit split = split_reasoning(completion.text, starts_in_think);
    result.reasoning = std::move(split.reasoning);
    result.answer = std::move(split.answer);
    result.usage.input = static_cast<int64_t>(prompt.size());
    result.usage.output = static_cast<int64_t>(completion.tokens.size());
    result.usage.reasoning = reasoning_tokens(completion.tokens, starts_in_think);
    result.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  // Tokens up to and including </think>; all of them when the think block never closed.
  int64_t reasoning_tokens(const std::vector<int32_t>& tokens, bool starts_in_think) const {
    if (!think_end_) return 0;
    const auto end = std::find(tokens.begin(), tokens.end(), *think_end_);
    if (end == tokens.end()) return starts_in_think ? static_cast<int64_t>(tokens.size()) : 0;
    return end - tokens.begin() + 1;
  }

  fs::path dir_;
  std::unique_ptr<engine::BatchModel> model_;
  engine::Tokenizer tokenizer_;
  engine::ChatTemplate chat_;
  std::vector<int32_t> stop_ids_;
  std::optional<int32_t> think_end_;
  int max_batch_;
  std::string weights_hash_;
  engine::Generator generator_;
};

}  // namespace

std::string checkpoint_fingerprint(const fs::path& dir) {
  Sha256 hash;
  const auto config = dir / "config.json";
  hash.field(fs::exists(config) ? sha256_file_hex(config) : "");
  const auto files = weight_files(dir);
  uintmax_t total = 0;
  for (const auto& file : files) total += fs::file_size(file);
  for (const auto& file : files) {
    hash.field(file.filename().string()).field(std::to_string(fs::file_size(file)));
    if (total <= kWholeHashLimit) {
      hash.field(sha256_file_hex(file));
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    const auto size = static_cast<std::streamoff>(fs::file_size(file));
    hash_range(hash, in, 0, kSampledBytes);  // the header and the first tensors
    hash_range(hash, in, std::max<std::streamoff>(0, size - kSampledBytes), kSampledBytes);
  }
  return hash.hex();
}

std::unique_ptr<Backend> make_engine_backend(const fs::path& dir, const EngineBackendOptions& options) {
  if (!fs::is_directory(dir)) throw UserError(fmt::format("engine model directory {} does not exist", dir.string()));
  return std::make_unique<EngineBackend>(dir, options);
}

}  // namespace rbench
