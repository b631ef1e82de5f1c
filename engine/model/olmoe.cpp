// OLMoE: RMSNorm over the whole q and k projections (not per head) before RoPE, optional clipping
// of q/k/v, and a softmax top-k MoE in every layer.
#include "engine/model/families.h"

namespace rbench::engine {

LayerSpec olmoe_layer_spec(const ModelConfig& config, std::size_t layer) {
  const GqaOptions attention{.qkv_bias = config.attention_bias,
                             .output_bias = config.attention_bias,
                             .qk_norm = GqaOptions::QkNorm::whole_projection};
  return {grouped_query_attention_spec(layer, attention), softmax_topk_experts_spec(layer, config)};
}

}  // namespace rbench::engine
