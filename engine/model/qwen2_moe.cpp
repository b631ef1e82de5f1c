// Qwen2-MoE: Qwen2's attention; sparse layers add a shared expert scaled by a sigmoid gate to the
// softmax top-k experts. decoder_sparse_step and mlp_only_layers leave some layers dense.
#include "engine/model/families.h"

namespace rbench::engine {

LayerSpec qwen2_moe_layer_spec(const ModelConfig& config, std::size_t layer) {
  const AttentionSpec attention = grouped_query_attention_spec(layer, {.qkv_bias = config.attention_bias});
  if (!config.is_moe_layer(layer)) return {attention, dense_mlp_spec(layer, config.intermediate_size)};
  FeedForwardSpec ffn = softmax_topk_experts_spec(layer, config);
  ffn.shared = FeedForwardSpec::Shared::gated;
  ffn.shared_prefix = "shared_expert.";
  ffn.shared_intermediate = config.shared_expert_intermediate_size;
  return {attention, ffn};
}

}  // namespace rbench::engine
