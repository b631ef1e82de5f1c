#pragma once
// A model's shape, parsed from a Hugging Face config.json. Both spellings of the RoPE settings are
// read: rope_theta + rope_scaling (transformers 4) and rope_parameters (transformers 5).
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbench::engine {

enum class Family { qwen2, llama, qwen2_moe, qwen3_moe, mixtral, olmoe, deepseek_v2, deepseek_v3 };
std::string_view family_name(Family family);

struct RopeConfig {
  enum class Type { standard, linear, llama3, yarn };
  Type type = Type::standard;
  double theta = 10000;
  double factor = 1;                            // linear, llama3, yarn
  double original_max_position_embeddings = 0;  // llama3, yarn
  double low_freq_factor = 1;                   // llama3
  double high_freq_factor = 4;                  // llama3
  double beta_fast = 32;                        // yarn
  double beta_slow = 1;                         // yarn
  double mscale = 0;                            // yarn (DeepSeek); 0 = unset
  double mscale_all_dim = 0;                    // yarn (DeepSeek); 0 = unset
  std::optional<double> attention_factor;       // yarn; derived from the mscales when unset
  bool truncate = true;                         // yarn
};

struct ModelConfig {
  Family family = Family::llama;
  std::string model_type;
  std::size_t vocab_size = 0;
  std::size_t hidden_size = 0;
  std::size_t num_layers = 0;
  std::size_t num_heads = 0;
  std::size_t num_kv_heads = 0;
  std::size_t head_dim = 0;
  std::size_t intermediate_size = 0;  // dense MLP layers
  std::size_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  bool tie_word_embeddings = false;
  bool attention_bias = false;    // biases on the attention projections (q/k/v always, for Qwen2)
  std::optional<float> clip_qkv;  // OLMoE
  RopeConfig rope;
  bool rope_interleave = false;  // DeepSeek: rotated pairs are adjacent dims

  // Mixture of experts.
  std::size_t num_experts = 0;
  std::size_t experts_per_token = 0;
  std::size_t moe_intermediate_size = 0;
  std::size_t shared_expert_intermediate_size = 0;  // Qwen2-MoE's gated shared expert
  std::size_t n_shared_experts = 0;                 // DeepSeek: shared MLP of n × moe_intermediate_size
  bool norm_topk_prob = false;
  std::size_t decoder_sparse_step = 1;       // Qwen MoE: every n-th layer is sparse ...
  std::vector<std::size_t> mlp_only_layers;  // ... except these
  std::size_t first_k_dense_replace = 0;     // DeepSeek: dense first layers ...
  std::size_t moe_layer_freq = 1;            // ... then every n-th layer is sparse
  float routed_scaling_factor = 1;
  std::size_t n_group = 1;
  std::size_t topk_group = 1;
  std::string topk_method;  // DeepSeek-V2: greedy | group_limited_greedy

  // Multi-head latent attention (DeepSeek).
  std::size_t q_lora_rank = 0;  // 0: a plain q_proj
  std::size_t kv_lora_rank = 0;
  std::size_t qk_nope_head_dim = 0;
  std::size_t qk_rope_head_dim = 0;
  std::size_t v_head_dim = 0;

  std::vector<int> eos_token_ids;
  std::optional<int> bos_token_id;

  bool uses_mla() const { return family == Family::deepseek_v2 || family == Family::deepseek_v3; }
  bool is_moe_layer(std::size_t layer) const;
  std::size_t rotary_dim() const { return uses_mla() ? qk_rope_head_dim : head_dim; }
};

// Parses config.json text; `origin` names it in errors, which are rbench::UserError naming the field.
ModelConfig parse_model_config(std::string_view json_text, const std::string& origin);
ModelConfig load_model_config(const std::filesystem::path& config_json);

}  // namespace rbench::engine
