// Qwen3-MoE: per-head RMSNorm of q and k before RoPE, no q/k/v biases, and softmax top-k experts
// (renormalised when norm_topk_prob) in the sparse layers.
#include "engine/model/families.h"

namespace rbench::engine {

DecoderLayer bind_qwen3_moe_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer) {
  const std::string prefix = layer_prefix(layer);
  const GqaOptions attention_options{
      .qkv_bias = config.attention_bias, .output_bias = config.attention_bias, .qk_norm = GqaOptions::QkNorm::per_head};
  auto attention = bind_gqa_attention(weights, prefix + "self_attn.", config, attention_options);
  if (!config.is_moe_layer(layer)) {
    return make_decoder_layer(weights, config, layer, std::move(attention),
                              bind_dense_mlp(weights, prefix + "mlp.", config.hidden_size, config.intermediate_size));
  }
  return make_decoder_layer(weights, config, layer, std::move(attention),
                            make_mixture_of_experts(bind_softmax_topk_moe(weights, prefix + "mlp.", config)));
}

}  // namespace rbench::engine
