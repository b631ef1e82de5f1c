// OLMoE: RMSNorm over the whole q and k projections (not per head) before RoPE, optional clipping
// of q/k/v, and a softmax top-k MoE in every layer.
#include "engine/model/families.h"

namespace rbench::engine {

DecoderLayer bind_olmoe_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer) {
  const std::string prefix = layer_prefix(layer);
  const GqaOptions attention{.qkv_bias = config.attention_bias,
                             .output_bias = config.attention_bias,
                             .qk_norm = GqaOptions::QkNorm::whole_projection};
  return make_decoder_layer(weights, config, layer,
                            bind_gqa_attention(weights, prefix + "self_attn.", config, attention),
                            make_mixture_of_experts(bind_softmax_topk_moe(weights, prefix + "mlp.", config)));
}

}  // namespace rbench::engine
