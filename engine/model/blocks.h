#pragma once
// The blocks the model families share: the pieces of attention over the KV cache, grouped-query
// attention, the SwiGLU MLP and the mixture-of-experts block with its router variants. A family
// file (qwen2.cpp, deepseek.cpp, ...) binds a checkpoint's tensors to these and holds only what
// differs.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/model/config.h"
#include "engine/model/kv_cache.h"
#include "engine/model/model.h"
#include "engine/model/weights.h"

namespace rbench::engine {

// The rows of one forward pass are the new tokens of every sequence, concatenated.
struct BatchLayout {
  struct Sequence {
    std::size_t first_row = 0;
    std::size_t rows = 0;
    std::size_t start_position = 0;  // the cache length before this step
    KvCache* cache = nullptr;
  };
  std::vector<Sequence> sequences;
  std::size_t total_rows = 0;
};

// What every block of one forward pass sees.
struct ForwardContext {
  const BatchLayout& batch;
  const cpu::Matrix& rope_cos;  // [rows, rotary_dim / 2]: each row's position
  const cpu::Matrix& rope_sin;
  const DumpHook& dump;  // may be empty
  std::size_t layer = 0;

  void record(std::string_view name, const cpu::Matrix& tensor) const {
    if (dump) dump(name, static_cast<int>(layer), tensor);
  }
};

class AttentionBlock {
 public:
  virtual ~AttentionBlock() = default;
  virtual cpu::Matrix forward(const cpu::Matrix& normed, const ForwardContext& context) const = 0;
  virtual std::size_t weight_bytes() const = 0;
};

class FeedForwardBlock {
 public:
  virtual ~FeedForwardBlock() = default;
  virtual cpu::Matrix forward(const cpu::Matrix& normed, const ForwardContext& context) const = 0;
  // A mixture of experts reads only the experts one token is routed to.
  virtual std::size_t weight_bytes_per_token() const = 0;
};

// Pre-norm residual layer: h += attention(norm(h)); h += ffn(norm(h)).
struct DecoderLayer {
  std::vector<float> attention_norm;
  std::unique_ptr<AttentionBlock> attention;
  std::vector<float> ffn_norm;
  std::unique_ptr<FeedForwardBlock> ffn;
};

// "model.layers.<layer>." — every family names its layer tensors under it.
std::string layer_prefix(std::size_t layer);
// Binds the layer's input_layernorm and post_attention_layernorm around the given blocks.
DecoderLayer make_decoder_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer,
                                std::unique_ptr<AttentionBlock> attention, std::unique_ptr<FeedForwardBlock> ffn);

// ---- attention pieces ----

struct AttentionGeometry {
  std::size_t heads = 0;
  std::size_t kv_heads = 0;  // query head h reads kv head h / (heads / kv_heads)
  std::size_t key_dim = 0;
  std::size_t value_dim = 0;
  float scale = 1;  // multiplies q·k before the softmax
};

// Rotates dims [rope_offset, rope_offset + rotary_dim) of every head (head_width floats apart) of
// every row by that row's position.
void rotate_heads(cpu::Matrix& x, std::size_t head_width, std::size_t rope_offset, cpu::RopeLayout layout,
                  const ForwardContext& context);

// Appends each row's key and value to its sequence's cache, then lets every query row attend
// causally over its sequence's positions up to its own. Returns [rows, heads · value_dim].
cpu::Matrix cached_causal_attention(const cpu::Matrix& queries, const cpu::Matrix& keys, const cpu::Matrix& values,
                                    const AttentionGeometry& geometry, const ForwardContext& context);

// ---- grouped-query attention (Llama, Qwen, Mixtral, OLMoE) ----

struct GqaOptions {
  bool qkv_bias = false;
  bool output_bias = false;
  enum class QkNorm { none, per_head, whole_projection } qk_norm = QkNorm::none;  // Qwen3 / OLMoE
};
std::unique_ptr<AttentionBlock> bind_gqa_attention(const WeightLoader& weights, const std::string& prefix,
                                                   const ModelConfig& config, const GqaOptions& options);

// ---- feed-forward ----

struct MlpNames {
  std::string gate = "gate_proj";
  std::string up = "up_proj";
  std::string down = "down_proj";
};

// down(silu(gate(x)) · up(x)) with gate and up fused into one [2·intermediate, hidden] matrix.
cpu::Matrix swiglu_mlp(const cpu::Matrix& x, cpu::WeightView gate_up, cpu::WeightView down);

class DenseMlp final : public FeedForwardBlock {
 public:
  DenseMlp(cpu::Matrix gate_up, cpu::Matrix down) : gate_up_(std::move(gate_up)), down_(std::move(down)) {}
  cpu::Matrix forward(const cpu::Matrix& normed, const ForwardContext& context) const override;
  std::size_t weight_bytes_per_token() const override;

 private:
  cpu::Matrix gate_up_;
  cpu::Matrix down_;
};
std::unique_ptr<DenseMlp> bind_dense_mlp(const WeightLoader& weights, const std::string& prefix, std::size_t hidden,
                                         std::size_t intermediate, const MlpNames& names = {});

// Routed experts, optionally beside an always-on shared expert.
struct MoeWeights {
  cpu::Matrix router;                 // [experts, hidden]
  std::vector<float> selection_bias;  // DeepSeek-V3's e_score_correction_bias, else empty
  cpu::RouterSpec routing;
  std::size_t expert_count = 0;
  std::size_t expert_intermediate = 0;
  cpu::Matrix experts_gate_up;              // [experts · 2·intermediate, hidden]
  cpu::Matrix experts_down;                 // [experts · hidden, intermediate]
  std::unique_ptr<DenseMlp> shared_expert;  // nullptr when none
  std::vector<float> shared_expert_gate;    // Qwen2-MoE: sigmoid(x · gate) scales the shared expert
};

// Binds "<prefix><e>.<gate|up|down>.weight" for every expert e into the stacks of a MoeWeights.
void bind_experts(const WeightLoader& weights, const std::string& prefix, const ModelConfig& config,
                  const MlpNames& names, MoeWeights& moe);
std::unique_ptr<FeedForwardBlock> make_mixture_of_experts(MoeWeights weights);

// The softmax top-k router ("<prefix>gate.weight") and experts ("<prefix>experts.<e>.") of
// Mixtral, OLMoE and the Qwen MoEs; the weights are renormalised when config.norm_topk_prob.
MoeWeights bind_softmax_topk_moe(const WeightLoader& weights, const std::string& prefix, const ModelConfig& config,
                                 const MlpNames& names = {});

}  // namespace rbench::engine
