#pragma once
// One binder per family, each in its own file: it turns layer `layer` of a checkpoint into a
// DecoderLayer built from the shared blocks.
#include <cstddef>

#include "engine/model/blocks.h"

namespace rbench::engine {

using LayerBinder = DecoderLayer (*)(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);

DecoderLayer bind_qwen2_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);
DecoderLayer bind_llama_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);
DecoderLayer bind_qwen2_moe_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);
DecoderLayer bind_qwen3_moe_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);
DecoderLayer bind_mixtral_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);
DecoderLayer bind_olmoe_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);
DecoderLayer bind_deepseek_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer);

}  // namespace rbench::engine
