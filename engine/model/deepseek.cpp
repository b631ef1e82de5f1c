// DeepSeek-V2 and V3: multi-head latent attention (MLA) and fine-grained routed experts beside
// shared ones, after first_k_dense_replace dense layers. V2 routes by softmax (optionally limited
// to the best groups by their top expert); V3 by sigmoid plus a selection-only bias, limited to
// the groups with the best sum of their top two experts.
#include <algorithm>
#include <array>
#include <cmath>

#include "engine/model/families.h"

namespace rbench::engine {

using cpu::Matrix;

namespace {

// Queries come from a low-rank projection (q_a → norm → q_b) or a plain q_proj. Keys and values
// come from one shared latent (kv_a → norm → kv_b) plus a single RoPE key shared by every head;
// only the last qk_rope_head_dim dims of each query and key are rotated.
//
// The cache holds the full per-head keys and values after up-projection, as transformers does.
// Caching the latent instead (kv_lora_rank + qk_rope_head_dim floats per position, with kv_b
// absorbed into the query and output) is the efficient choice and the next step for long contexts.
class MultiHeadLatentAttention final : public AttentionBlock {
 public:
  struct Weights {
    Matrix q_proj;    // [heads · qk_head_dim, hidden] when there is no q_lora_rank
    Matrix q_a, q_b;  // low-rank queries otherwise
    std::vector<float> q_a_bias, q_a_norm;
    Matrix kv_a;  // [kv_lora_rank + rope_dim, hidden]
    std::vector<float> kv_a_bias, kv_a_norm;
    Matrix kv_b;  // [heads · (nope_dim + value_dim), kv_lora_rank]
    Matrix o;
    std::vector<float> o_bias;
  };

  MultiHeadLatentAttention(Weights weights, const ModelConfig& config)
      : w_(std::move(weights)),
        heads_(config.num_heads),
        nope_dim_(config.qk_nope_head_dim),
        rope_dim_(config.qk_rope_head_dim),
        value_dim_(config.v_head_dim),
        latent_dim_(config.kv_lora_rank),
        norm_eps_(config.rms_norm_eps),
        layout_(config.rope_interleave ? cpu::RopeLayout::interleaved : cpu::RopeLayout::half_split),
        softmax_scale_(mla_softmax_scale(config)) {}

  Matrix forward(const Matrix& normed, const ForwardContext& context) const override {
    Matrix q = queries(normed);
    const std::array<std::size_t, 2> widths = {latent_dim_, rope_dim_};
    std::vector<Matrix> compressed = cpu::split_columns(cpu::matmul(normed, cpu::view(w_.kv_a), w_.kv_a_bias), widths);
    Matrix& latent = compressed[0];
    Matrix& rope_key = compressed[1];
    cpu::rms_norm_rows(latent, w_.kv_a_norm, norm_eps_);
    const Matrix kv = cpu::matmul(latent, cpu::view(w_.kv_b));
    context.record("q", q);
    context.record("kv_latent", latent);
    context.record("kv", kv);

    rotate_heads(q, nope_dim_ + rope_dim_, nope_dim_, layout_, context);
    rotate_heads(rope_key, rope_dim_, 0, layout_, context);
    context.record("q_rope", q);
    context.record("k_rope", rope_key);
    Matrix keys(normed.rows(), heads_ * (nope_dim_ + rope_dim_));
    Matrix values(normed.rows(), heads_ * value_dim_);
    split_heads(kv, rope_key, keys, values);
    const AttentionGeometry geometry{heads_, heads_, nope_dim_ + rope_dim_, value_dim_, softmax_scale_};
    const Matrix attended = cached_causal_attention(q, keys, values, geometry, context);
    context.record("kqv_out", attended);
    return cpu::matmul(attended, cpu::view(w_.o), w_.o_bias);
  }

  std::size_t weight_bytes() const override {
    std::size_t floats = 0;
    for (const Matrix* m : {&w_.q_proj, &w_.q_a, &w_.q_b, &w_.kv_a, &w_.kv_b, &w_.o}) floats += m->values().size();
    return floats * sizeof(float);
  }

 private:
  // Per head: key = (k_nope of kv, the shared rotated key), value = the rest of kv.
  void split_heads(const Matrix& kv, const Matrix& rope_key, Matrix& keys, Matrix& values) const {
    const std::size_t key_dim = nope_dim_ + rope_dim_;
    for (std::size_t row = 0; row < kv.rows(); ++row) {
      for (std::size_t h = 0; h < heads_; ++h) {
        const float* head_kv = kv.row(row) + h * (nope_dim_ + value_dim_);
        float* key = keys.row(row) + h * key_dim;
        std::copy_n(head_kv, nope_dim_, key);
        std::copy_n(rope_key.row(row), rope_dim_, key + nope_dim_);
        std::copy_n(head_kv + nope_dim_, value_dim_, values.row(row) + h * value_dim_);
      }
    }
  }

  Matrix queries(const Matrix& normed) const {
    if (w_.q_a.rows() == 0) return cpu::matmul(normed, cpu::view(w_.q_proj));
    Matrix compressed = cpu::matmul(normed, cpu::view(w_.q_a), w_.q_a_bias);
    cpu::rms_norm_rows(compressed, w_.q_a_norm, norm_eps_);
    return cpu::matmul(compressed, cpu::view(w_.q_b));
  }

  Weights w_;
  std::size_t heads_, nope_dim_, rope_dim_, value_dim_, latent_dim_;
  float norm_eps_;
  cpu::RopeLayout layout_;
  float softmax_scale_;
};

}  // namespace

// YaRN lengthens the context; DeepSeek compensates the attention entropy by mscale² on the softmax
// scale. (transformers applies this for V3 only; its V2 port drops it, unlike DeepSeek's own V2 code,
// which this follows.)
float mla_softmax_scale(const ModelConfig& config) {
  double scale = 1.0 / std::sqrt(static_cast<double>(config.qk_nope_head_dim + config.qk_rope_head_dim));
  if (config.rope.type != RopeConfig::Type::standard && config.rope.mscale_all_dim != 0) {
    const double mscale = cpu::yarn_mscale(config.rope.factor, config.rope.mscale_all_dim);
    scale *= mscale * mscale;
  }
  return static_cast<float>(scale);
}

std::unique_ptr<AttentionBlock> bind_mla_attention(const WeightLoader& weights, const std::string& prefix,
                                                   const ModelConfig& config) {
  const std::size_t hidden = config.hidden_size;
  const std::size_t q_width = config.num_heads * (config.qk_nope_head_dim + config.qk_rope_head_dim);
  const bool bias = config.attention_bias;
  MultiHeadLatentAttention::Weights bound;
  if (config.q_lora_rank == 0) {
    bound.q_proj = weights.matrix(prefix + "q_proj.weight", q_width, hidden);
  } else {
    bound.q_a = weights.matrix(prefix + "q_a_proj.weight", config.q_lora_rank, hidden);
    if (bias) bound.q_a_bias = weights.vector(prefix + "q_a_proj.bias", config.q_lora_rank);
    bound.q_a_norm = weights.vector(prefix + "q_a_layernorm.weight", config.q_lora_rank);
    bound.q_b = weights.matrix(prefix + "q_b_proj.weight", q_width, config.q_lora_rank);
  }
  const std::size_t compressed_width = config.kv_lora_rank + config.qk_rope_head_dim;
  bound.kv_a = weights.matrix(prefix + "kv_a_proj_with_mqa.weight", compressed_width, hidden);
  if (bias) bound.kv_a_bias = weights.vector(prefix + "kv_a_proj_with_mqa.bias", compressed_width);
  bound.kv_a_norm = weights.vector(prefix + "kv_a_layernorm.weight", config.kv_lora_rank);
  bound.kv_b = weights.matrix(prefix + "kv_b_proj.weight",
                              config.num_heads * (config.qk_nope_head_dim + config.v_head_dim), config.kv_lora_rank);
  bound.o = weights.matrix(prefix + "o_proj.weight", hidden, config.num_heads * config.v_head_dim);
  if (bias) bound.o_bias = weights.vector(prefix + "o_proj.bias", hidden);
  return std::make_unique<MultiHeadLatentAttention>(std::move(bound), config);
}

namespace {

cpu::RouterSpec deepseek_routing(const ModelConfig& config) {
  cpu::RouterSpec spec;
  spec.top_k = config.experts_per_token;
  spec.normalize = config.norm_topk_prob;
  spec.scale = config.routed_scaling_factor;
  if (config.family == Family::deepseek_v3) {
    spec.score = cpu::RouterScore::sigmoid;
    spec.groups = config.n_group;
    spec.groups_kept = config.topk_group;
    spec.group_score = cpu::GroupScore::sum_of_top2;
  } else if (config.topk_method == "group_limited_greedy") {
    spec.score = cpu::RouterScore::softmax;
    spec.groups = config.n_group;
    spec.groups_kept = config.topk_group;
    spec.group_score = cpu::GroupScore::max_expert;
  }
  return spec;
}

}  // namespace

LayerSpec deepseek_layer_spec(const ModelConfig& config, std::size_t layer) {
  const AttentionSpec attention{AttentionSpec::Kind::latent, layer_prefix(layer) + "self_attn.", {}};
  if (!config.is_moe_layer(layer)) return {attention, dense_mlp_spec(layer, config.intermediate_size)};
  FeedForwardSpec ffn;
  ffn.kind = FeedForwardSpec::Kind::mixture;
  ffn.prefix = layer_prefix(layer) + "mlp.";
  ffn.routing = deepseek_routing(config);
  ffn.selection_bias = config.family == Family::deepseek_v3;
  if (config.n_shared_experts > 0) {
    ffn.shared = FeedForwardSpec::Shared::plain;
    ffn.shared_prefix = "shared_experts.";
    ffn.shared_intermediate = config.moe_intermediate_size * config.n_shared_experts;
  }
  return {attention, ffn};
}

}  // namespace rbench::engine
