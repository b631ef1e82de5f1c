// Mixtral: Llama's attention; every layer a sparse MoE whose experts name their projections
// w1 (gate), w3 (up) and w2 (down), routed by softmax top-k with the weights renormalised.
#include "engine/model/families.h"

namespace rbench::engine {

LayerSpec mixtral_layer_spec(const ModelConfig& config, std::size_t layer) {
  return {grouped_query_attention_spec(layer, {}),
          softmax_topk_experts_spec(layer, config, "block_sparse_moe.", {.gate = "w1", .up = "w3", .down = "w2"})};
}

}  // namespace rbench::engine
