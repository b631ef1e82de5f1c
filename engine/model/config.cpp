#include "engine/model/config.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "common/error.h"

namespace rbench::engine {

using nlohmann::json;

namespace {

struct FamilyNames {
  Family family;
  std::string_view model_type;
  std::string_view architecture;
};

constexpr std::array<FamilyNames, 8> known_families = {{
    {Family::qwen2, "qwen2", "Qwen2ForCausalLM"},
    {Family::llama, "llama", "LlamaForCausalLM"},
    {Family::qwen2_moe, "qwen2_moe", "Qwen2MoeForCausalLM"},
    {Family::qwen3_moe, "qwen3_moe", "Qwen3MoeForCausalLM"},
    {Family::mixtral, "mixtral", "MixtralForCausalLM"},
    {Family::olmoe, "olmoe", "OlmoeForCausalLM"},
    {Family::deepseek_v2, "deepseek_v2", "DeepseekV2ForCausalLM"},
    {Family::deepseek_v3, "deepseek_v3", "DeepseekV3ForCausalLM"},
}};

// Reads fields of one JSON object, naming the file and field in every error.
class FieldReader {
 public:
  FieldReader(const json& object, std::string origin) : object_(object), origin_(std::move(origin)) {}

  bool has(const char* key) const { return object_.contains(key) && !object_.at(key).is_null(); }
  const json& raw(const char* key) const { return object_.at(key); }

  [[noreturn]] void fail(const char* key, const std::string& problem) const {
    throw UserError(origin_ + ": field '" + key + "' " + problem);
  }

  double number(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    if (!raw(key).is_number()) fail(key, "is not a number");
    return raw(key).get<double>();
  }
  double number_or(const char* key, double fallback) const { return has(key) ? number(key) : fallback; }

  std::size_t size(const char* key) const {
    const double value = number(key);
    if (value < 0 || value != std::floor(value)) fail(key, "is not a non-negative whole number");
    return static_cast<std::size_t>(value);
  }
  std::size_t size_or(const char* key, std::size_t fallback) const { return has(key) ? size(key) : fallback; }

  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!raw(key).is_boolean()) fail(key, "is not true or false");
    return raw(key).get<bool>();
  }

  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!raw(key).is_string()) fail(key, "is not a string");
    return raw(key).get<std::string>();
  }

  std::vector<int> integers(const char* key) const {  // a number or a list of numbers; absent: none
    if (!has(key)) return {};
    const json& value = raw(key);
    if (value.is_number_integer()) return {value.get<int>()};
    if (value.is_array() &&
        std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_number_integer(); })) {
      return value.get<std::vector<int>>();
    }
    fail(key, "is neither a whole number nor a list of them");
  }

 private:
  const json& object_;
  std::string origin_;
};

Family parse_family(const json& root, const std::string& origin) {
  const std::string model_type = root.value("model_type", std::string());
  std::vector<std::string> architectures;
  if (root.contains("architectures") && root["architectures"].is_array()) {
    for (const json& name : root["architectures"]) {
      if (name.is_string()) architectures.push_back(name.get<std::string>());
    }
  }
  for (const FamilyNames& names : known_families) {
    if (model_type == names.model_type) return names.family;
  }
  if (model_type.empty()) {
    for (const FamilyNames& names : known_families) {
      if (std::find(architectures.begin(), architectures.end(), names.architecture) != architectures.end()) {
        return names.family;
      }
    }
  }
  std::string supported;
  for (const FamilyNames& names : known_families)
    supported += (supported.empty() ? "" : ", ") + std::string(names.model_type);
  std::string listed;
  for (const std::string& name : architectures) listed += (listed.empty() ? "" : ", ") + name;
  throw UserError(origin + ": field 'model_type' is '" + model_type + "' (architectures: " +
                  (listed.empty() ? "none" : listed) + "), which the engine does not support; supported: " + supported);
}

RopeConfig::Type parse_rope_type(const FieldReader& fields, const std::string& type) {
  if (type == "default") return RopeConfig::Type::standard;
  if (type == "linear") return RopeConfig::Type::linear;
  if (type == "llama3") return RopeConfig::Type::llama3;
  if (type == "yarn") return RopeConfig::Type::yarn;
  fields.fail("rope_type", "is '" + type + "'; supported: default, linear, llama3, yarn");
}

// transformers 5 keeps theta and the scaling fields together in rope_parameters; older configs put
// rope_theta at the top level and the scaling fields (or null) in rope_scaling.
RopeConfig parse_rope(const json& root, const FieldReader& top, const std::string& origin, std::size_t max_positions) {
  const bool new_spelling = top.has("rope_parameters");
  const char* section = new_spelling ? "rope_parameters" : "rope_scaling";
  static const json no_scaling = json::object();
  const json& scaling = top.has(section) ? root.at(section) : no_scaling;
  if (!scaling.is_object()) top.fail(section, "is not an object");
  const FieldReader fields(scaling, origin + " (" + section + ")");

  RopeConfig rope;
  rope.theta = new_spelling ? fields.number_or("rope_theta", top.number_or("rope_theta", 10000))
                            : top.number_or("rope_theta", 10000);
  rope.type = parse_rope_type(fields, fields.string_or("rope_type", fields.string_or("type", "default")));
  rope.original_max_position_embeddings =
      fields.number_or("original_max_position_embeddings",
                       top.number_or("original_max_position_embeddings", static_cast<double>(max_positions)));
  switch (rope.type) {
    case RopeConfig::Type::standard:
      break;
    case RopeConfig::Type::linear:
      rope.factor = fields.number("factor");
      break;
    case RopeConfig::Type::llama3:
      rope.factor = fields.number("factor");
      rope.low_freq_factor = fields.number("low_freq_factor");
      rope.high_freq_factor = fields.number("high_freq_factor");
      fields.number("original_max_position_embeddings");  // required: it sets the wavelength bands
      break;
    case RopeConfig::Type::yarn:
      // transformers 5 semantics: `factor` as given; only a missing factor is derived from the
      // context lengths (transformers 4 overrode it whenever original_max_position_embeddings was set).
      rope.factor =
          fields.number_or("factor", static_cast<double>(max_positions) / rope.original_max_position_embeddings);
      rope.beta_fast = fields.number_or("beta_fast", 32);
      rope.beta_slow = fields.number_or("beta_slow", 1);
      rope.mscale = fields.number_or("mscale", 0);
      rope.mscale_all_dim = fields.number_or("mscale_all_dim", 0);
      if (fields.has("attention_factor")) rope.attention_factor = fields.number("attention_factor");
      rope.truncate = fields.boolean_or("truncate", true);
      break;
  }
  return rope;
}

void reject_unsupported(const FieldReader& fields, Family family) {
  const std::string activation = fields.string_or("hidden_act", "silu");
  if (activation != "silu") fields.fail("hidden_act", "is '" + activation + "'; the engine implements silu");
  if (fields.boolean_or("mlp_bias", false)) fields.fail("mlp_bias", "is true; the engine has no MLP biases");
  if ((family == Family::qwen2 || family == Family::qwen2_moe || family == Family::qwen3_moe) &&
      fields.boolean_or("use_sliding_window", false)) {
    fields.fail("use_sliding_window", "is true; the engine has no sliding-window attention");
  }
  if (family == Family::mixtral && fields.has("sliding_window")) {
    fields.fail("sliding_window", "is set; the engine has no sliding-window attention");
  }
}

void parse_moe(const FieldReader& fields, ModelConfig& config) {
  for (const char* key : {"num_experts", "num_local_experts", "n_routed_experts"}) {
    if (fields.has(key)) {
      config.num_experts = fields.size(key);
      break;
    }
  }
  config.experts_per_token = fields.size_or("num_experts_per_tok", 0);
  // Mixtral's and OLMoE's experts are intermediate_size wide; the others name their own width.
  const bool experts_use_intermediate_size = config.family == Family::mixtral || config.family == Family::olmoe;
  config.moe_intermediate_size =
      experts_use_intermediate_size ? config.intermediate_size : fields.size_or("moe_intermediate_size", 0);
  config.shared_expert_intermediate_size = fields.size_or("shared_expert_intermediate_size", 0);
  config.n_shared_experts = fields.size_or("n_shared_experts", 0);
  // Mixtral always renormalises its top-k weights; the others follow norm_topk_prob.
  config.norm_topk_prob =
      config.family == Family::mixtral || fields.boolean_or("norm_topk_prob", config.family == Family::deepseek_v3);
  config.decoder_sparse_step = fields.size_or("decoder_sparse_step", 1);
  if (fields.has("mlp_only_layers")) {
    if (!fields.raw("mlp_only_layers").is_array()) fields.fail("mlp_only_layers", "is not a list");
    config.mlp_only_layers = fields.raw("mlp_only_layers").get<std::vector<std::size_t>>();
  }
  config.first_k_dense_replace = fields.size_or("first_k_dense_replace", 0);
  config.moe_layer_freq = fields.size_or("moe_layer_freq", 1);
  config.routed_scaling_factor = static_cast<float>(fields.number_or("routed_scaling_factor", 1));
  config.n_group = fields.size_or("n_group", 1);
  config.topk_group = fields.size_or("topk_group", 1);
  config.topk_method = fields.string_or("topk_method", config.family == Family::deepseek_v2 ? "greedy" : "noaux_tc");

  const bool every_layer_sparse = config.family == Family::mixtral || config.family == Family::olmoe;
  if (every_layer_sparse && config.num_experts == 0) {
    fields.fail(config.family == Family::mixtral ? "num_local_experts" : "num_experts", "is missing or zero");
  }
  const bool moe_family = config.family != Family::qwen2 && config.family != Family::llama;
  if (!moe_family || config.num_experts == 0) return;
  if (config.experts_per_token == 0 || config.experts_per_token > config.num_experts) {
    fields.fail("num_experts_per_tok", "must be between 1 and the number of experts");
  }
  if (config.moe_intermediate_size == 0) fields.fail("moe_intermediate_size", "is missing or zero");
  if (config.decoder_sparse_step == 0) fields.fail("decoder_sparse_step", "is zero");
  if (config.moe_layer_freq == 0) fields.fail("moe_layer_freq", "is zero");
  if (config.n_group == 0 || config.num_experts % config.n_group != 0) {
    fields.fail("n_group", "must divide the number of experts");
  }
  if (config.topk_group == 0 || config.topk_group > config.n_group)
    fields.fail("topk_group", "must be between 1 and n_group");
  if (config.family == Family::deepseek_v2 && config.topk_method != "greedy" &&
      config.topk_method != "group_limited_greedy") {
    fields.fail("topk_method", "is '" + config.topk_method + "'; DeepSeek-V2 routes greedy or group_limited_greedy");
  }
}

void parse_mla(const FieldReader& fields, ModelConfig& config) {
  config.q_lora_rank = fields.size_or("q_lora_rank", 0);
  config.kv_lora_rank = fields.size("kv_lora_rank");
  config.qk_nope_head_dim = fields.size("qk_nope_head_dim");
  config.qk_rope_head_dim = fields.size("qk_rope_head_dim");
  config.v_head_dim = fields.size("v_head_dim");
  // transformers' DeepSeek-V2 always rotates adjacent pairs (complex multiplication); V3 reads the flag.
  config.rope_interleave = config.family == Family::deepseek_v2 || fields.boolean_or("rope_interleave", true);
  if (config.qk_rope_head_dim % 2 != 0) fields.fail("qk_rope_head_dim", "is odd");
}

}  // namespace

std::string_view family_name(Family family) {
  for (const FamilyNames& names : known_families) {
    if (names.family == family) return names.model_type;
  }
  return "unknown";
}

bool ModelConfig::is_moe_layer(std::size_t layer) const {
  if (num_experts == 0) return false;
  switch (family) {
    case Family::qwen2:
    case Family::llama:
      return false;
    case Family::mixtral:
    case Family::olmoe:
      return true;
    case Family::qwen2_moe:
    case Family::qwen3_moe:
      return std::find(mlp_only_layers.begin(), mlp_only_layers.end(), layer) == mlp_only_layers.end() &&
             (layer + 1) % decoder_sparse_step == 0;
    case Family::deepseek_v2:
    case Family::deepseek_v3:
      return layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  return false;
}

ModelConfig parse_model_config(std::string_view json_text, const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& error) {
    throw UserError(origin + " is not valid JSON: " + error.what());
  }
  if (!root.is_object()) throw UserError(origin + " is not a JSON object");
  const FieldReader fields(root, origin);

  ModelConfig config;
  config.family = parse_family(root, origin);
  config.model_type = std::string(family_name(config.family));
  reject_unsupported(fields, config.family);
  config.vocab_size = fields.size("vocab_size");
  config.hidden_size = fields.size("hidden_size");
  config.num_layers = fields.size("num_hidden_layers");
  config.num_heads = fields.size("num_attention_heads");
  if (config.num_heads == 0) fields.fail("num_attention_heads", "is zero");
  config.num_kv_heads = fields.size_or("num_key_value_heads", config.num_heads);
  if (config.num_kv_heads == 0 || config.num_heads % config.num_kv_heads != 0) {
    fields.fail("num_key_value_heads", "must divide num_attention_heads");
  }
  config.head_dim = fields.size_or("head_dim", config.hidden_size / config.num_heads);
  config.intermediate_size = fields.size_or("intermediate_size", 0);
  config.max_position_embeddings = fields.size_or("max_position_embeddings", 4096);
  config.rms_norm_eps = static_cast<float>(fields.number_or("rms_norm_eps", 1e-6));
  config.tie_word_embeddings = fields.boolean_or("tie_word_embeddings", false);
  const bool qwen2_attention = config.family == Family::qwen2 || config.family == Family::qwen2_moe;
  config.attention_bias =
      qwen2_attention ? fields.boolean_or("qkv_bias", true) : fields.boolean_or("attention_bias", false);
  if (fields.has("clip_qkv")) config.clip_qkv = static_cast<float>(fields.number("clip_qkv"));
  config.rope = parse_rope(root, fields, origin, config.max_position_embeddings);
  if (config.uses_mla()) parse_mla(fields, config);
  if (config.rotary_dim() % 2 != 0) fields.fail("head_dim", "is odd, so RoPE cannot pair its dimensions");
  parse_moe(fields, config);
  config.eos_token_ids = fields.integers("eos_token_id");
  if (const std::vector<int> bos = fields.integers("bos_token_id"); !bos.empty()) config.bos_token_id = bos.front();
  return config;
}

ModelConfig load_model_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json);
  if (!in) throw UserError("cannot read " + config_json.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_model_config(text.str(), config_json.string());
}

}  // namespace rbench::engine
