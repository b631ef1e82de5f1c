// Qwen2-MoE: Qwen2's attention; sparse layers add a shared expert scaled by a sigmoid gate to the
// softmax top-k experts. decoder_sparse_step and mlp_only_layers leave some layers dense.
#include "engine/model/families.h"

namespace rbench::engine {

DecoderLayer bind_qwen2_moe_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer) {
  const std::string prefix = layer_prefix(layer);
  auto attention = bind_gqa_attention(weights, prefix + "self_attn.", config, {.qkv_bias = config.attention_bias});
  if (!config.is_moe_layer(layer)) {
    return make_decoder_layer(weights, config, layer, std::move(attention),
                              bind_dense_mlp(weights, prefix + "mlp.", config.hidden_size, config.intermediate_size));
  }
  MoeWeights moe = bind_softmax_topk_moe(weights, prefix + "mlp.", config);
  moe.shared_expert = bind_dense_mlp(weights, prefix + "mlp.shared_expert.", config.hidden_size,
                                     config.shared_expert_intermediate_size);
  const cpu::Matrix gate = weights.matrix(prefix + "mlp.shared_expert_gate.weight", 1, config.hidden_size);
  moe.shared_expert_gate.assign(gate.values().begin(), gate.values().end());
  return make_decoder_layer(weights, config, layer, std::move(attention), make_mixture_of_experts(std::move(moe)));
}

}  // namespace rbench::engine
