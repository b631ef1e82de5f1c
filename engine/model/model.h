#pragma once
// The engine's model: load a Hugging Face checkpoint directory (config.json + safetensors), then run
// forward passes over a batch of sequences, each with its own KV cache, and get their logits.
// This is the CPU reference path: float32 math, weights converted to float32 at load.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/model/config.h"
#include "engine/model/kv_cache.h"

namespace rbench::engine {

using TokenId = std::int32_t;

// Receives every named intermediate of a forward pass (layer -1 outside the decoder layers), so a
// wrong logit can be traced to the first tensor that differs from transformers.
using DumpHook = std::function<void(std::string_view name, int layer, const cpu::Matrix& tensor)>;

// One sequence of a forward batch.
struct SequenceStep {
  std::span<const TokenId> tokens;  // new tokens, at positions cache->length() onwards
  KvCache* cache = nullptr;         // from Model::new_cache(); extended by tokens.size()
  bool all_logits = false;          // logits of every new token, else of the last one only
};

class Model {
 public:
  // Reads dir/config.json and the safetensors weights; errors are rbench::UserError.
  static std::unique_ptr<Model> load(const std::filesystem::path& dir);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const;
  // The rows a cache holds for this model (a paged cache is built to the same shape).
  struct CacheShape {
    std::size_t layers = 0;
    std::size_t key_width = 0;
    std::size_t value_width = 0;
  };
  CacheShape cache_shape() const;
  std::unique_ptr<KvCache> new_cache() const;  // a ContiguousKvCache

  // Runs every sequence's new tokens together (each weight is read once per call), appends their
  // keys and values to the sequences' caches and returns each sequence's logits, [positions, vocab].
  std::vector<cpu::Matrix> forward(std::span<const SequenceStep> batch) const;

  void set_dump_hook(DumpHook hook);
  // Bytes of weights one decode step of one sequence reads: all dense weights, the experts its
  // token is routed to, and the output head. Divides memory bandwidth into a tokens/s roofline.
  std::size_t weight_bytes_per_token() const;

 private:
  struct Parts;
  explicit Model(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace rbench::engine
