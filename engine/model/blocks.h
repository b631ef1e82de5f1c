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

// ---- layer specs: a family's whole architecture, for every device ----
//
// A family file says what each layer is made of: which blocks, their options and the checkpoint
// names of their tensors. The CPU model binds a spec to the blocks above (bind_decoder_layer); the
// CUDA model (engine/cuda) binds the same spec to its kernels. A family is written once.

struct AttentionSpec {
  enum class Kind { grouped_query, latent };  // latent: DeepSeek's multi-head latent attention (MLA)
  Kind kind = Kind::grouped_query;
  std::string prefix;  // "model.layers.<n>.self_attn."
  GqaOptions options;  // grouped_query only
};

struct FeedForwardSpec {
  enum class Kind { dense, mixture };
  Kind kind = Kind::dense;
  std::string prefix;            // "model.layers.<n>.mlp."
  MlpNames names;                // the projections of the MLP, or of every expert
  std::size_t intermediate = 0;  // dense
  // mixture: router "<prefix>gate.weight", experts "<prefix>experts.<e>.<names>.weight"
  cpu::RouterSpec routing;
  bool selection_bias = false;  // "<prefix>gate.e_score_correction_bias" (DeepSeek-V3)
  // An always-on shared expert "<prefix><shared_prefix>", plain (DeepSeek) or scaled by
  // sigmoid(x · "<prefix>shared_expert_gate.weight") (Qwen2-MoE).
  enum class Shared { none, plain, gated };
  Shared shared = Shared::none;
  std::string shared_prefix;
  std::size_t shared_intermediate = 0;
};

struct LayerSpec {
  AttentionSpec attention;
  FeedForwardSpec ffn;
};

AttentionSpec grouped_query_attention_spec(std::size_t layer, const GqaOptions& options);
FeedForwardSpec dense_mlp_spec(std::size_t layer, std::size_t intermediate);
// The softmax top-k router and experts of Mixtral, OLMoE and the Qwen MoEs under "<n>.<block>";
// the weights are renormalised when config.norm_topk_prob.
FeedForwardSpec softmax_topk_experts_spec(std::size_t layer, const ModelConfig& config,
                                          const std::string& block = "mlp.", const MlpNames& names = {});

// The CPU blocks of one layer, as its spec says.
DecoderLayer bind_decoder_layer(const WeightLoader& weights, const ModelConfig& config, std::size_t layer,
                                const LayerSpec& spec);

// ---- what both devices need from a config ----

// Inverse frequencies of the rotated pairs and the factor on cos/sin, as the config's RoPE type says.
struct RopeTable {
  std::vector<double> inv_freq;
  double attention_factor = 1;
};
RopeTable make_rope_table(const ModelConfig& config);

// MLA: defined in deepseek.cpp.
std::unique_ptr<AttentionBlock> bind_mla_attention(const WeightLoader& weights, const std::string& prefix,
                                                   const ModelConfig& config);
float mla_softmax_scale(const ModelConfig& config);

}  // namespace rbench::engine
