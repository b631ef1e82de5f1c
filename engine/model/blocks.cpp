#include "engine/model/blocks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "engine/cpu/thread_pool.h"

namespace rbench::engine {

using cpu::Matrix;

std::string layer_prefix(std::size_t layer) { return "model.layers." + std::to_string(layer) + "."; }

// ---- attention pieces ----

void rotate_heads(Matrix& x, std::size_t head_width, std::size_t rope_offset, cpu::RopeLayout layout,
                  const ForwardContext& context) {
  const std::size_t rotary_dim = 2 * context.rope_cos.cols();
  for (std::size_t row = 0; row < x.rows(); ++row) {
    for (std::size_t head_start = 0; head_start < x.cols(); head_start += head_width) {
      cpu::apply_rope(x.row_span(row).subspan(head_start + rope_offset, rotary_dim), context.rope_cos.row_span(row),
                      context.rope_sin.row_span(row), layout);
    }
  }
}

namespace {

void store_in_caches(const Matrix& keys, const Matrix& values, const ForwardContext& context) {
  for (const BatchLayout::Sequence& sequence : context.batch.sequences) {
    if (sequence.cache->key_width() != keys.cols() || sequence.cache->value_width() != values.cols()) {
      throw std::logic_error("KV cache rows do not match the model's keys and values");
    }
    for (std::size_t i = 0; i < sequence.rows; ++i) {
      const std::size_t position = sequence.start_position + i;
      std::memcpy(sequence.cache->key(context.layer, position), keys.row(sequence.first_row + i),
                  keys.cols() * sizeof(float));
      std::memcpy(sequence.cache->value(context.layer, position), values.row(sequence.first_row + i),
                  values.cols() * sizeof(float));
    }
  }
}

// Row pointers of every cached position of one sequence, in one layer.
struct SequenceRows {
  std::vector<const float*> keys;
  std::vector<const float*> values;
};

// Where each query row reads: its sequence's cached rows, up to and including its own position.
struct AttentionPlan {
  std::vector<SequenceRows> rows_of_sequence;
  std::vector<std::size_t> sequence_of_row;
  std::size_t longest = 1;  // positions of the longest sequence
};

AttentionPlan plan_attention(const ForwardContext& context) {
  AttentionPlan plan;
  plan.sequence_of_row.resize(context.batch.total_rows);
  const auto& sequences = context.batch.sequences;
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const std::size_t length = sequences[s].start_position + sequences[s].rows;
    SequenceRows rows;
    for (std::size_t position = 0; position < length; ++position) {
      rows.keys.push_back(sequences[s].cache->key(context.layer, position));
      rows.values.push_back(sequences[s].cache->value(context.layer, position));
    }
    plan.rows_of_sequence.push_back(std::move(rows));
    plan.longest = std::max(plan.longest, length);
    for (std::size_t i = 0; i < sequences[s].rows; ++i) plan.sequence_of_row[sequences[s].first_row + i] = s;
  }
  return plan;
}

void attend_row_head(const Matrix& queries, std::size_t row, std::size_t head, const AttentionGeometry& geometry,
                     const AttentionPlan& plan, const ForwardContext& context, Matrix& out) {
  const std::size_t s = plan.sequence_of_row[row];
  const BatchLayout::Sequence& sequence = context.batch.sequences[s];
  const SequenceRows& cached = plan.rows_of_sequence[s];
  const std::size_t visible = sequence.start_position + (row - sequence.first_row) + 1;
  const std::size_t kv_head = head / (geometry.heads / geometry.kv_heads);
  const cpu::CachedRows keys{std::span(cached.keys).first(visible), kv_head * geometry.key_dim, geometry.key_dim};
  const cpu::CachedRows values{std::span(cached.values).first(visible), kv_head * geometry.value_dim,
                               geometry.value_dim};
  cpu::attend_head(queries.row_span(row).subspan(head * geometry.key_dim, geometry.key_dim), keys, values,
                   geometry.scale, out.row_span(row).subspan(head * geometry.value_dim, geometry.value_dim));
}

}  // namespace

Matrix cached_causal_attention(const Matrix& queries, const Matrix& keys, const Matrix& values,
                               const AttentionGeometry& geometry, const ForwardContext& context) {
  store_in_caches(keys, values, context);
  const AttentionPlan plan = plan_attention(context);
  Matrix out(queries.rows(), geometry.heads * geometry.value_dim);
  // One work item per (row, head): a single decoding token still spreads over every core.
  const std::size_t item_work = std::max<std::size_t>(1, plan.longest * (geometry.key_dim + geometry.value_dim));
  cpu::parallel_for(queries.rows() * geometry.heads, (cpu::min_chunk_work + item_work - 1) / item_work,
                    [&](std::size_t begin, std::size_t end) {
                      for (std::size_t item = begin; item < end; ++item) {
                        attend_row_head(queries, item / geometry.heads, item % geometry.heads, geometry, plan, context,
                                        out);
                      }
                    });
  return out;
}

// ---- grouped-query attention ----

namespace {

class GroupedQueryAttention final : public AttentionBlock {
 public:
  struct Weights {
    Matrix qkv;                   // q, k and v projections stacked: one pass over the input
    std::vector<float> qkv_bias;  // empty when absent
    Matrix o;
    std::vector<float> o_bias;
    std::vector<float> q_norm, k_norm;  // empty, one head wide, or the whole projection
  };

  GroupedQueryAttention(Weights weights, const ModelConfig& config)
      : weights_(std::move(weights)),
        geometry_{config.num_heads, config.num_kv_heads, config.head_dim, config.head_dim,
                  static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim)))},
        widths_{config.num_heads * config.head_dim, config.num_kv_heads * config.head_dim,
                config.num_kv_heads * config.head_dim},
        norm_eps_(config.rms_norm_eps),
        clip_qkv_(config.clip_qkv) {}

  Matrix forward(const Matrix& normed, const ForwardContext& context) const override {
    std::vector<Matrix> qkv =
        cpu::split_columns(cpu::matmul(normed, cpu::view(weights_.qkv), weights_.qkv_bias), widths_);
    Matrix& q = qkv[0];
    Matrix& k = qkv[1];
    const Matrix& v = qkv[2];
    if (!weights_.q_norm.empty()) cpu::rms_norm_rows(q, weights_.q_norm, norm_eps_);
    if (!weights_.k_norm.empty()) cpu::rms_norm_rows(k, weights_.k_norm, norm_eps_);
    if (clip_qkv_) {
      for (Matrix& m : qkv) cpu::clamp(m.values(), *clip_qkv_);
    }
    context.record("q", q);
    context.record("k", k);
    context.record("v", v);
    rotate_heads(q, geometry_.key_dim, 0, cpu::RopeLayout::half_split, context);
    rotate_heads(k, geometry_.key_dim, 0, cpu::RopeLayout::half_split, context);
    context.record("q_rope", q);
    context.record("k_rope", k);
    const Matrix attended = cached_causal_attention(q, k, v, geometry_, context);
    context.record("kqv_out", attended);
    return cpu::matmul(attended, cpu::view(weights_.o), weights_.o_bias);
  }

  std::size_t weight_bytes() const override {
    return (weights_.qkv.values().size() + weights_.o.values().size()) * sizeof(float);
  }

 private:
  Weights weights_;
  AttentionGeometry geometry_;
  std::array<std::size_t, 3> widths_;  // of q, k and v
  float norm_eps_;
  std::optional<float> clip_qkv_;
};

std::vector<float> concatenate(const std::vector<std::vector<float>>& pieces) {
  std::vector<float> joined;
  for (const auto& piece : pieces) joined.insert(joined.end(), piece.begin(), piece.end());
  return joined;
}

}  // namespace

std::unique_ptr<AttentionBlock> bind_gqa_attention(const WeightLoader& weights, const std::string& prefix,
                                                   const ModelConfig& config, const GqaOptions& options) {
  const std::size_t hidden = config.hidden_size;
  const std::size_t q_width = config.num_heads * config.head_dim;
  const std::size_t kv_width = config.num_kv_heads * config.head_dim;
  GroupedQueryAttention::Weights bound;
  bound.qkv = weights.stacked(
      {{prefix + "q_proj.weight", q_width}, {prefix + "k_proj.weight", kv_width}, {prefix + "v_proj.weight", kv_width}},
      hidden);
  if (options.qkv_bias) {
    bound.qkv_bias =
        concatenate({weights.vector(prefix + "q_proj.bias", q_width), weights.vector(prefix + "k_proj.bias", kv_width),
                     weights.vector(prefix + "v_proj.bias", kv_width)});
  }
  bound.o = weights.matrix(prefix + "o_proj.weight", hidden, q_width);
  if (options.output_bias) bound.o_bias = weights.vector(prefix + "o_proj.bias", hidden);
  if (options.qk_norm != GqaOptions::QkNorm::none) {
    const bool per_head = options.qk_norm == GqaOptions::QkNorm::per_head;
    bound.q_norm = weights.vector(prefix + "q_norm.weight", per_head ? config.head_dim : q_width);
    bound.k_norm = weights.vector(prefix + "k_norm.weight", per_head ? config.head_dim : kv_width);
  }
  return std::make_unique<GroupedQueryAttention>(std::move(bound), config);
}

// ---- feed-forward ----

Matrix swiglu_mlp(const Matrix& x, cpu::WeightView gate_up, cpu::WeightView down) {
  Matrix activated;
  cpu::swiglu(cpu::matmul(x, gate_up), activated);
  return cpu::matmul(activated, down);
}

Matrix DenseMlp::forward(const Matrix& normed, const ForwardContext&) const {
  return swiglu_mlp(normed, cpu::view(gate_up_), cpu::view(down_));
}

std::size_t DenseMlp::weight_bytes_per_token() const {
  return (gate_up_.values().size() + down_.values().size()) * sizeof(float);
}

std::unique_ptr<DenseMlp> bind_dense_mlp(const WeightLoader& weights, const std::string& prefix, std::size_t hidden,
                                         std::size_t intermediate, const MlpNames& names) {
  Matrix gate_up = weights.stacked(
      {{prefix + names.gate + ".weight", intermediate}, {prefix + names.up + ".weight", intermediate}}, hidden);
  Matrix down = weights.matrix(prefix + names.down + ".weight", hidden, intermediate);
  return std::make_unique<DenseMlp>(std::move(gate_up), std::move(down));
}

void bind_experts(const WeightLoader& weights, const std::string& prefix, const ModelConfig& config,
                  const MlpNames& names, MoeWeights& moe) {
  const std::size_t hidden = config.hidden_size;
  const std::size_t intermediate = config.moe_intermediate_size;
  std::vector<WeightLoader::Part> gate_up_parts;
  std::vector<WeightLoader::Part> down_parts;
  for (std::size_t e = 0; e < config.num_experts; ++e) {
    const std::string expert = prefix + std::to_string(e) + ".";
    gate_up_parts.push_back({expert + names.gate + ".weight", intermediate});
    gate_up_parts.push_back({expert + names.up + ".weight", intermediate});
    down_parts.push_back({expert + names.down + ".weight", hidden});
  }
  moe.expert_count = config.num_experts;
  moe.expert_intermediate = intermediate;
  moe.experts_gate_up = weights.stacked(gate_up_parts, hidden);
  moe.experts_down = weights.stacked(down_parts, intermediate);
}

namespace {

class MixtureOfExperts final : public FeedForwardBlock {
 public:
  explicit MixtureOfExperts(MoeWeights weights) : w_(std::move(weights)) {}

  Matrix forward(const Matrix& normed, const ForwardContext& context) const override {
    const Matrix router_logits = cpu::matmul(normed, cpu::view(w_.router));
    context.record("ffn_moe_logits", router_logits);
    Matrix out = routed_experts(normed, router_logits);
    context.record("ffn_moe_out", out);
    if (w_.shared_expert) {
      Matrix shared = w_.shared_expert->forward(normed, context);
      if (!w_.shared_expert_gate.empty()) scale_by_shared_gate(normed, shared);
      context.record("ffn_shexp_out", shared);
      cpu::add_in_place(out, shared);
    }
    return out;
  }

  std::size_t weight_bytes_per_token() const override {
    const std::size_t expert_floats =
        (w_.experts_gate_up.values().size() + w_.experts_down.values().size()) / w_.expert_count;
    std::size_t bytes = (w_.router.values().size() + w_.routing.top_k * expert_floats) * sizeof(float);
    if (w_.shared_expert) bytes += w_.shared_expert->weight_bytes_per_token();
    return bytes + w_.shared_expert_gate.size() * sizeof(float);
  }

 private:
  struct Assignment {
    std::size_t row;
    float weight;
  };

  // Tokens are grouped by expert so each expert's weights are read once for all its tokens.
  Matrix routed_experts(const Matrix& x, const Matrix& router_logits) const {
    const std::size_t top_k = w_.routing.top_k;
    std::vector<std::vector<Assignment>> tokens_of_expert(w_.expert_count);
    std::vector<std::size_t> experts(top_k);
    std::vector<float> weights(top_k);
    for (std::size_t row = 0; row < x.rows(); ++row) {
      cpu::route_token(router_logits.row_span(row), w_.selection_bias, w_.routing, experts, weights);
      for (std::size_t i = 0; i < top_k; ++i) tokens_of_expert[experts[i]].push_back({row, weights[i]});
    }
    const std::size_t hidden = x.cols();
    const std::size_t intermediate = w_.expert_intermediate;
    Matrix out(x.rows(), hidden);
    for (std::size_t e = 0; e < w_.expert_count; ++e) {
      const std::vector<Assignment>& assigned = tokens_of_expert[e];
      if (assigned.empty()) continue;
      Matrix input(assigned.size(), hidden);
      for (std::size_t i = 0; i < assigned.size(); ++i) {
        std::memcpy(input.row(i), x.row(assigned[i].row), hidden * sizeof(float));
      }
      const Matrix expert_out =
          swiglu_mlp(input, cpu::view_rows(w_.experts_gate_up, e * 2 * intermediate, 2 * intermediate),
                     cpu::view_rows(w_.experts_down, e * hidden, hidden));
      for (std::size_t i = 0; i < assigned.size(); ++i) {
        float* target = out.row(assigned[i].row);
        const float* source = expert_out.row(i);
        for (std::size_t c = 0; c < hidden; ++c) target[c] += assigned[i].weight * source[c];
      }
    }
    return out;
  }

  void scale_by_shared_gate(const Matrix& x, Matrix& shared) const {
    for (std::size_t row = 0; row < x.rows(); ++row) {
      const float gate = 1.0f / (1.0f + std::exp(-cpu::dot(x.row(row), w_.shared_expert_gate.data(), x.cols())));
      for (float& value : shared.row_span(row)) value *= gate;
    }
  }

  MoeWeights w_;
};

}  // namespace

std::unique_ptr<FeedForwardBlock> make_mixture_of_experts(MoeWeights weights) {
  return std::make_unique<MixtureOfExperts>(std::move(weights));
}

// ---- layer specs ----

AttentionSpec grouped_query_attention_spec(std::size_t layer, const GqaOptions& options) {
  return {AttentionSpec::Kind::grouped_query, layer_prefix(layer) + "self_attn.", options};
}

FeedForwardSpec dense_mlp_spec(std::size_t layer, std::size_t intermediate) {
  FeedForwardSpec spec;
  spec.prefix = layer_prefix(layer) + "mlp.";
  spec.intermediate = intermediate;
  return spec;
}

FeedForwardSpec softmax_topk_experts_spec(std::size_t layer, const ModelConfig& config, const std::string& block,
                                          const MlpNames& names) {
  FeedForwardSpec spec;
  spec.kind = FeedForwardSpec::Kind::mixture;
  spec.prefix = layer_prefix(layer) + block;
  spec.names = names;
  spec.routing.score = cpu::RouterScore::softmax;
  spec.routing.top_k = config.experts_per_token;
  spec.routing.normalize = config.norm_topk_prob;
  return spec;
}

namespace {

std::unique_ptr<FeedForwardBlock> bind_feed_forward(const WeightLoader& weights, const ModelConfig& config,
                                                    const FeedForwardSpec& spec) {
  if (spec.kind == FeedForwardSpec::Kind::dense) {
    return bind_dense_mlp(weights, spec.prefix, config.hidden_size, spec.intermediate, spec.names);
  }
  MoeWeights moe;
  moe.router = weights.matrix(spec.prefix + "gate.weight", config.num_experts, config.hidden_size);
  if (spec.selection_bias) {
    moe.selection_bias = weights.vector(spec.prefix + "gate.e_score_correction_bias", config.num_experts);
  }
  moe.routing = spec.routing;
  bind_experts(weights, spec.prefix + "experts.", config, spec.names, moe);
  if (spec.shared != FeedForwardSpec::Shared::none) {
    moe.shared_expert =
        bind_dense_mlp(weights, spec.prefix + spec.shared_prefix, config.hidden_size, spec.shared_intermediate);
  }
  if (spec.shared == FeedForwardSpec::Shared::gated) {
    const Matrix gate = weights.matrix(spec.prefix + "shared_expert_gate.weight", 1, config.hidden_size);
    moe.shared_expert_gate.assign(gate.values().begin(), gate.values().end());
  }
  return make_mixture_of_experts(std::move(moe));
}

}  // namespace

DecoderLayer bind_decoder_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer,
                                const LayerSpec& spec) {
  std::unique_ptr<AttentionBlock> attention =
      spec.attention.kind == AttentionSpec::Kind::latent
          ? bind_mla_attention(weights, spec.attention.prefix, config)
          : bind_gqa_attention(weights, spec.attention.prefix, config, spec.attention.options);
  const std::string prefix = layer_prefix(layer);
  return {weights.vector(prefix + "input_layernorm.weight", config.hidden_size), std::move(attention),
          weights.vector(prefix + "post_attention_layernorm.weight", config.hidden_size),
          bind_feed_forward(weights, config, spec.ffn)};
}

}  // namespace rbench::engine
