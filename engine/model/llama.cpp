// Llama (2, 3, 3.x): grouped-query attention and a SwiGLU MLP; attention_bias puts biases on all
// four projections. Llama 3's RoPE scaling is a config matter, handled with the other RoPE types.
#include "engine/model/families.h"

namespace rbench::engine {

LayerSpec llama_layer_spec(const ModelConfig& config, std::size_t layer) {
  const GqaOptions attention{.qkv_bias = config.attention_bias, .output_bias = config.attention_bias};
  return {grouped_query_attention_spec(layer, attention), dense_mlp_spec(layer, config.intermediate_size)};
}

}  // namespace rbench::engine
