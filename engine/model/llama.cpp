// Llama (2, 3, 3.x): grouped-query attention and a SwiGLU MLP; attention_bias puts biases on all
// four projections. Llama 3's RoPE scaling is a config matter, handled with the other RoPE types.
#include "engine/model/families.h"

namespace rbench::engine {

DecoderLayer bind_llama_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer) {
  const std::string prefix = layer_prefix(layer);
  const GqaOptions attention{.qkv_bias = config.attention_bias, .output_bias = config.attention_bias};
  return make_decoder_layer(weights, config, layer,
                            bind_gqa_attention(weights, prefix + "self_attn.", config, attention),
                            bind_dense_mlp(weights, prefix + "mlp.", config.hidden_size, config.intermediate_size));
}

}  // namespace rbench::engine
