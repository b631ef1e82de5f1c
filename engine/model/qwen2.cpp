// Qwen2: Llama's layout with biases on the q, k and v projections (none on o_proj).
#include "engine/model/families.h"

namespace rbench::engine {

DecoderLayer bind_qwen2_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer) {
  const std::string prefix = layer_prefix(layer);
  return make_decoder_layer(
      weights, config, layer,
      bind_gqa_attention(weights, prefix + "self_attn.", config, {.qkv_bias = config.attention_bias}),
      bind_dense_mlp(weights, prefix + "mlp.", config.hidden_size, config.intermediate_size));
}

}  // namespace rbench::engine
