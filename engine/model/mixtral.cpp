// Mixtral: Llama's attention; every layer a sparse MoE whose experts name their projections
// w1 (gate), w3 (up) and w2 (down), routed by softmax top-k with the weights renormalised.
#include "engine/model/families.h"

namespace rbench::engine {

DecoderLayer bind_mixtral_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer) {
  const std::string prefix = layer_prefix(layer);
  MoeWeights moe =
      bind_softmax_topk_moe(weights, prefix + "block_sparse_moe.", config, {.gate = "w1", .up = "w3", .down = "w2"});
  return make_decoder_layer(weights, config, layer, bind_gqa_attention(weights, prefix + "self_attn.", config, {}),
                            make_mixture_of_experts(std::move(moe)));
}

}  // namespace rbench::engine
