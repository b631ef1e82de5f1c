// Qwen2: Llama's layout with biases on the q, k and v projections (none on o_proj).
#include "engine/model/families.h"

namespace rbench::engine {

LayerSpec qwen2_layer_spec(const ModelConfig& config, std::size_t layer) {
  return {grouped_query_attention_spec(layer, {.qkv_bias = config.attention_bias}),
          dense_mlp_spec(layer, config.intermediate_size)};
}

}  // namespace rbench::engine
