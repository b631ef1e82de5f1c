#pragma once
// One spec function per family, each in its own file: it says what layer `layer` of a checkpoint is
// made of, from the shared blocks. Both devices build their layers from these specs.
#include <cstddef>

#include "engine/model/blocks.h"

namespace rbench::engine {

LayerSpec qwen2_layer_spec(const ModelConfig& config, std::size_t layer);
LayerSpec llama_layer_spec(const ModelConfig& config, std::size_t layer);
LayerSpec qwen2_moe_layer_spec(const ModelConfig& config, std::size_t layer);
LayerSpec qwen3_moe_layer_spec(const ModelConfig& config, std::size_t layer);
LayerSpec mixtral_layer_spec(const ModelConfig& config, std::size_t layer);
LayerSpec olmoe_layer_spec(const ModelConfig& config, std::size_t layer);
LayerSpec deepseek_layer_spec(const ModelConfig& config, std::size_t layer);

// The spec of layer `layer` of the config's family.
LayerSpec layer_spec(const ModelConfig& config, std::size_t layer);

}  // namespace rbench::engine
