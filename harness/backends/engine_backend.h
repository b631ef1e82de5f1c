#pragma once
// `engine:DIR` — the built-in engine on a Hugging Face checkpoint directory (config.json, safetensors,
// tokenizer.json, tokenizer_config.json with its chat template, generation_config.json).
#include <filesystem>
#include <memory>
#include <string>

#include "harness/backends/backend.h"

namespace rbench {

struct EngineBackendOptions {
  int max_batch = 32;             // sequences decoded together
  std::string chat_family;        // "" = from the checkpoint's template; else deepseek | chatml | llama3
  std::string device = "cpu";     // cpu | cuda (engine::open_batch_model)
};

// Throws UserError naming the file when the checkpoint or its tokenizer cannot be loaded, or the device
// is unknown or absent.
std::unique_ptr<Backend> make_engine_backend(const std::filesystem::path& dir, const EngineBackendOptions& options);

// What pins a checkpoint's answers: config.json and the weights. Files up to 2 GiB in all are hashed whole;
// beyond that each weight file's size, safetensors header and first and last 16 MiB.
std::string checkpoint_fingerprint(const std::filesystem::path& dir);

}  // namespace rbench
