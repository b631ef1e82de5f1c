#include "engine/model/model.h"

#include <cstring>
#include <set>
#include <stdexcept>

#include "common/error.h"
#include "engine/model/families.h"

namespace rbench::engine {

using cpu::Matrix;

LayerSpec layer_spec(const ModelConfig& config, std::size_t layer) {
  switch (config.family) {
    case Family::qwen2:
      return qwen2_layer_spec(config, layer);
    case Family::llama:
      return llama_layer_spec(config, layer);
    case Family::qwen2_moe:
      return qwen2_moe_layer_spec(config, layer);
    case Family::qwen3_moe:
      return qwen3_moe_layer_spec(config, layer);
    case Family::mixtral:
      return mixtral_layer_spec(config, layer);
    case Family::olmoe:
      return olmoe_layer_spec(config, layer);
    case Family::deepseek_v2:
    case Family::deepseek_v3:
      return deepseek_layer_spec(config, layer);
  }
  throw std::logic_error("no layer spec for a family");
}

RopeTable make_rope_table(const ModelConfig& config) {
  const RopeConfig& rope = config.rope;
  const std::size_t dim = config.rotary_dim();
  switch (rope.type) {
    case RopeConfig::Type::standard:
      return {cpu::rope_inv_freq_default(dim, rope.theta)};
    case RopeConfig::Type::linear: {
      std::vector<double> inv_freq = cpu::rope_inv_freq_default(dim, rope.theta);
      for (double& frequency : inv_freq) frequency /= rope.factor;
      return {inv_freq};
    }
    case RopeConfig::Type::llama3:
      return {cpu::rope_inv_freq_llama3(
          dim, rope.theta,
          {rope.factor, rope.low_freq_factor, rope.high_freq_factor, rope.original_max_position_embeddings})};
    case RopeConfig::Type::yarn: {
      RopeTable table{cpu::rope_inv_freq_yarn(
          dim, rope.theta,
          {rope.factor, rope.original_max_position_embeddings, rope.beta_fast, rope.beta_slow, rope.truncate})};
      // cos and sin are scaled by YaRN's attention factor: as given, else DeepSeek's ratio of
      // mscales, else the paper's 0.1·ln(factor) + 1.
      if (rope.attention_factor) {
        table.attention_factor = *rope.attention_factor;
      } else if (rope.mscale != 0 && rope.mscale_all_dim != 0) {
        table.attention_factor =
            cpu::yarn_mscale(rope.factor, rope.mscale) / cpu::yarn_mscale(rope.factor, rope.mscale_all_dim);
      } else {
        table.attention_factor = cpu::yarn_mscale(rope.factor);
      }
      return table;
    }
  }
  throw std::logic_error("unknown RoPE type");
}

struct Model::Parts {
  ModelConfig config;
  Matrix embedding;  // [vocab, hidden]
  std::vector<DecoderLayer> layers;
  std::vector<float> final_norm;
  Matrix output_head;  // [vocab, hidden]; empty when tied to the embedding
  RopeTable rope;
  DumpHook dump;

  const Matrix& head() const { return output_head.rows() ? output_head : embedding; }
  void record(std::string_view name, const Matrix& tensor) const {
    if (dump) dump(name, -1, tensor);
  }
  BatchLayout plan(std::span<const SequenceStep> batch) const;
  Matrix embed(std::span<const SequenceStep> batch, std::size_t rows) const;
  void rope_angles(const BatchLayout& layout, Matrix& cos, Matrix& sin) const;
  void run_layers(Matrix& hidden, const BatchLayout& layout) const;
  std::vector<Matrix> logits(const Matrix& hidden, std::span<const SequenceStep> batch,
                             const BatchLayout& layout) const;
};

Model::Model(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::filesystem::path& dir) {
  auto parts = std::make_unique<Parts>();
  parts->config = load_model_config(dir / "config.json");
  const ModelConfig& config = parts->config;
  const WeightLoader weights(dir);
  parts->embedding = weights.matrix("model.embed_tokens.weight", config.vocab_size, config.hidden_size);
  for (std::size_t layer = 0; layer < config.num_layers; ++layer) {
    parts->layers.push_back(bind_decoder_layer(weights, config, layer, layer_spec(config, layer)));
  }
  parts->final_norm = weights.vector("model.norm.weight", config.hidden_size);
  // Tied checkpoints have no lm_head.weight: the output head is the embedding.
  if (!config.tie_word_embeddings) {
    parts->output_head = weights.matrix("lm_head.weight", config.vocab_size, config.hidden_size);
  }
  parts->rope = make_rope_table(config);
  return std::unique_ptr<Model>(new Model(std::move(parts)));
}

const ModelConfig& Model::config() const { return parts_->config; }

Model::CacheShape Model::cache_shape() const {
  const ModelConfig& c = parts_->config;
  // MLA caches every head's full key and value, as transformers does (see deepseek.cpp).
  if (c.uses_mla()) {
    return {c.num_layers, c.num_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim), c.num_heads * c.v_head_dim};
  }
  return {c.num_layers, c.num_kv_heads * c.head_dim, c.num_kv_heads * c.head_dim};
}

std::unique_ptr<KvCache> Model::new_cache() const {
  const CacheShape shape = cache_shape();
  return std::make_unique<ContiguousKvCache>(shape.layers, shape.key_width, shape.value_width);
}

void Model::set_dump_hook(DumpHook hook) { parts_->dump = std::move(hook); }

std::size_t Model::weight_bytes_per_token() const {
  std::size_t bytes = parts_->head().values().size() * sizeof(float);
  for (const DecoderLayer& layer : parts_->layers) {
    bytes += layer.attention->weight_bytes() + layer.ffn->weight_bytes_per_token();
  }
  return bytes;
}

BatchLayout Model::Parts::plan(std::span<const SequenceStep> batch) const {
  BatchLayout layout;
  std::set<const KvCache*> caches;
  for (const SequenceStep& step : batch) {
    if (step.cache == nullptr) throw std::invalid_argument("Model::forward: a sequence has no KV cache");
    if (step.tokens.empty()) throw std::invalid_argument("Model::forward: a sequence has no new tokens");
    if (!caches.insert(step.cache).second) throw std::invalid_argument("Model::forward: a KV cache appears twice");
    for (TokenId token : step.tokens) {
      if (token < 0 || static_cast<std::size_t>(token) >= config.vocab_size) {
        throw UserError("token id " + std::to_string(token) + " is outside the model's vocabulary of " +
                        std::to_string(config.vocab_size));
      }
    }
    layout.sequences.push_back({layout.total_rows, step.tokens.size(), step.cache->length(), step.cache});
    layout.total_rows += step.tokens.size();
  }
  return layout;
}

Matrix Model::Parts::embed(std::span<const SequenceStep> batch, std::size_t rows) const {
  Matrix hidden(rows, config.hidden_size);
  std::size_t row = 0;
  for (const SequenceStep& step : batch) {
    for (TokenId token : step.tokens) {
      std::memcpy(hidden.row(row++), embedding.row(static_cast<std::size_t>(token)),
                  config.hidden_size * sizeof(float));
    }
  }
  return hidden;
}

void Model::Parts::rope_angles(const BatchLayout& layout, Matrix& cos, Matrix& sin) const {
  cos = Matrix(layout.total_rows, rope.inv_freq.size());
  sin = Matrix(layout.total_rows, rope.inv_freq.size());
  for (const BatchLayout::Sequence& sequence : layout.sequences) {
    for (std::size_t i = 0; i < sequence.rows; ++i) {
      const std::size_t row = sequence.first_row + i;
      cpu::rope_cos_sin(rope.inv_freq, static_cast<double>(sequence.start_position + i), rope.attention_factor,
                        cos.row_span(row), sin.row_span(row));
    }
  }
}

void Model::Parts::run_layers(Matrix& hidden, const BatchLayout& layout) const {
  Matrix cos;
  Matrix sin;
  rope_angles(layout, cos, sin);
  for (std::size_t index = 0; index < layers.size(); ++index) {
    const DecoderLayer& layer = layers[index];
    const ForwardContext context{layout, cos, sin, dump, index};
    Matrix normed = hidden;
    cpu::rms_norm_rows(normed, layer.attention_norm, config.rms_norm_eps);
    context.record("attn_norm", normed);
    const Matrix attention = layer.attention->forward(normed, context);
    context.record("attn_out", attention);
    cpu::add_in_place(hidden, attention);
    context.record("ffn_inp", hidden);
    normed = hidden;
    cpu::rms_norm_rows(normed, layer.ffn_norm, config.rms_norm_eps);
    context.record("ffn_norm", normed);
    const Matrix ffn = layer.ffn->forward(normed, context);
    context.record("ffn_out", ffn);
    cpu::add_in_place(hidden, ffn);
    context.record("l_out", hidden);
  }
}

std::vector<Matrix> Model::Parts::logits(const Matrix& hidden, std::span<const SequenceStep> batch,
                                         const BatchLayout& layout) const {
  // Only the rows whose logits are asked for go through the final norm and the output head.
  std::vector<std::size_t> wanted_rows;
  for (std::size_t s = 0; s < batch.size(); ++s) {
    const BatchLayout::Sequence& sequence = layout.sequences[s];
    const std::size_t first = batch[s].all_logits ? sequence.first_row : sequence.first_row + sequence.rows - 1;
    for (std::size_t row = first; row < sequence.first_row + sequence.rows; ++row) wanted_rows.push_back(row);
  }
  Matrix selected(wanted_rows.size(), hidden.cols());
  for (std::size_t i = 0; i < wanted_rows.size(); ++i) {
    std::memcpy(selected.row(i), hidden.row(wanted_rows[i]), hidden.cols() * sizeof(float));
  }
  cpu::rms_norm_rows(selected, final_norm, config.rms_norm_eps);
  record("result_norm", selected);
  const Matrix all_logits = cpu::matmul(selected, cpu::view(head()));
  record("result_output", all_logits);

  std::vector<Matrix> per_sequence;
  std::size_t next = 0;
  for (std::size_t s = 0; s < batch.size(); ++s) {
    const std::size_t count = batch[s].all_logits ? layout.sequences[s].rows : 1;
    Matrix logits(count, config.vocab_size);
    for (std::size_t i = 0; i < count; ++i) {
      std::memcpy(logits.row(i), all_logits.row(next++), config.vocab_size * sizeof(float));
    }
    per_sequence.push_back(std::move(logits));
  }
  return per_sequence;
}

std::vector<Matrix> Model::forward(std::span<const SequenceStep> batch) const {
  const Parts& parts = *parts_;
  const BatchLayout layout = parts.plan(batch);
  for (const BatchLayout::Sequence& sequence : layout.sequences) {
    sequence.cache->extend(sequence.start_position + sequence.rows);
  }
  try {
    Matrix hidden = parts.embed(batch, layout.total_rows);
    parts.record("token_embd", hidden);
    parts.run_layers(hidden, layout);
    return parts.logits(hidden, batch, layout);
  } catch (...) {
    // A failed step leaves every cache as it was, so the caller may retry or drop the sequence.
    for (const BatchLayout::Sequence& sequence : layout.sequences) sequence.cache->truncate(sequence.start_position);
    throw;
  }
}

}  // namespace rbench::engine
