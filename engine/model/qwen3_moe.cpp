// Qwen3-MoE: per-head RMSNorm of q and k before RoPE, no q/k/v biases, and softmax top-k experts
// (renormalised when norm_topk_prob) in the sparse layers.
#include "engine/model/families.h"

namespace rbench::engine {

LayerSpec qwen3_moe_layer_spec(const ModelConfig& config, std::size_t layer) {
  const AttentionSpec attention = grouped_query_attention_spec(layer, {.qkv_bias = config.attention_bias,
                                                                       .output_bias = config.attention_bias,
                                                                       .qk_norm = GqaOptions::QkNorm::per_head});
  if (!config.is_moe_layer(layer)) return {attention, dense_mlp_spec(layer, config.intermediate_size)};
  return {attention, softmax_topk_experts_spec(layer, config)};
}

}  // namespace rbench::engine
