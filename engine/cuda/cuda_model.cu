// The CUDA model: binds each layer's spec (engine/model/families.h, shared with the CPU model) to
// device weights, and runs a step as kernel launches on one stream. A step's rows, positions and
// page lists go to the device in one copy; decode steps of a batch size seen before replay a
// captured CUDA graph. See docs/engine_cuda.md.
#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <type_traits>
#include <variant>

#include "common/error.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_model.h"
#include "engine/cuda/decode_graph.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/gpu_weights.h"
#include "engine/cuda/ops.h"
#include "engine/cuda/paged_kv_cache.h"
#include "engine/model/families.h"

namespace rbench::engine::cuda {

namespace {

template <class W>
using Source = GpuWeightSource<W>;
using Init = WeightInit;

// ---- the blocks on the device ----

template <class W>
struct GroupedQueryAttention {
  DeviceBuffer<W> qkv;  // q, k and v projections stacked
  DeviceBuffer<float> qkv_bias, q_norm, k_norm, o_bias;
  DeviceBuffer<W> o;
  GqaInputs inputs;
  AttentionShape shape;
};

// MLA with the latent cache: kv_b's key half is absorbed into the queries and its value half
// applied after attention, so attention itself is multi-query attention over one cached row per
// position, [normalised latent | rotated shared key], whose value is the latent.
template <class W>
struct LatentAttention {
  DeviceBuffer<W> q_proj, q_a, q_b, kv_a, kv_b, o;
  DeviceBuffer<float> q_a_bias, q_a_norm, kv_a_bias, kv_a_norm, o_bias;
  MlaInputs inputs;
  AttentionShape shape;
  int q_lora_rank = 0;
  int value_dim = 0;
};

template <class W>
struct Mlp {
  DeviceBuffer<W> gate_up;  // [2·intermediate, hidden]
  DeviceBuffer<W> down;     // [hidden, intermediate]
  int intermediate = 0;
};

template <class W>
struct Experts {
  DeviceBuffer<float> router;          // [experts, hidden], float32 so routing matches the CPU's
  DeviceBuffer<float> selection_bias;  // DeepSeek-V3, else empty
  RouterParams routing;
  DeviceBuffer<W> gate_up;  // [experts · 2·intermediate, hidden]
  DeviceBuffer<W> down;     // [experts · hidden, intermediate]
  int intermediate = 0;
  std::optional<Mlp<W>> shared;
  DeviceBuffer<float> shared_gate;  // Qwen2-MoE, else empty
};

template <class W>
struct Layer {
  DeviceBuffer<float> attention_norm;
  std::variant<GroupedQueryAttention<W>, LatentAttention<W>> attention;
  DeviceBuffer<float> ffn_norm;
  std::variant<Mlp<W>, Experts<W>> ffn;
};

// ---- binding a layer spec ----

template <class W>
GroupedQueryAttention<W> bind_grouped_query(Source<W>& source, const ModelConfig& c, const AttentionSpec& spec) {
  const std::string& p = spec.prefix;
  const int q_width = static_cast<int>(c.num_heads * c.head_dim);
  const int kv_width = static_cast<int>(c.num_kv_heads * c.head_dim);
  GroupedQueryAttention<W> a;
  a.qkv = source.stacked({{p + "q_proj.weight", static_cast<std::size_t>(q_width)},
                          {p + "k_proj.weight", static_cast<std::size_t>(kv_width)},
                          {p + "v_proj.weight", static_cast<std::size_t>(kv_width)}},
                         c.hidden_size);
  if (spec.options.qkv_bias) {
    a.qkv_bias = source.concatenated({{p + "q_proj.bias", static_cast<std::size_t>(q_width)},
                                      {p + "k_proj.bias", static_cast<std::size_t>(kv_width)},
                                      {p + "v_proj.bias", static_cast<std::size_t>(kv_width)}},
                                     Init::bias);
  }
  a.o = source.matrix(p + "o_proj.weight", c.hidden_size, static_cast<std::size_t>(q_width));
  if (spec.options.output_bias) a.o_bias = source.vector(p + "o_proj.bias", c.hidden_size, Init::bias);
  const bool per_head = spec.options.qk_norm == GqaOptions::QkNorm::per_head;
  if (spec.options.qk_norm != GqaOptions::QkNorm::none) {
    a.q_norm =
        source.vector(p + "q_norm.weight", per_head ? c.head_dim : static_cast<std::size_t>(q_width), Init::norm);
    a.k_norm =
        source.vector(p + "k_norm.weight", per_head ? c.head_dim : static_cast<std::size_t>(kv_width), Init::norm);
  }
  a.inputs = {static_cast<int>(c.num_heads),
              static_cast<int>(c.num_kv_heads),
              static_cast<int>(c.head_dim),
              a.qkv_bias.empty() ? nullptr : a.qkv_bias.data(),
              a.q_norm.empty() ? nullptr : a.q_norm.data(),
              a.k_norm.empty() ? nullptr : a.k_norm.data(),
              per_head,
              c.rms_norm_eps,
              c.clip_qkv.value_or(0.0f)};
  a.shape = {static_cast<int>(c.num_heads),
             static_cast<int>(c.num_kv_heads),
             static_cast<int>(c.head_dim),
             static_cast<int>(c.head_dim),
             q_width,
             static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)))};
  return a;
}

template <class W>
LatentAttention<W> bind_latent(Source<W>& source, const ModelConfig& c, const AttentionSpec& spec) {
  const std::string& p = spec.prefix;
  const std::size_t q_width = c.num_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim);
  const bool bias = c.attention_bias;
  LatentAttention<W> a;
  if (c.q_lora_rank == 0) {
    a.q_proj = source.matrix(p + "q_proj.weight", q_width, c.hidden_size);
  } else {
    a.q_a = source.matrix(p + "q_a_proj.weight", c.q_lora_rank, c.hidden_size);
    if (bias) a.q_a_bias = source.vector(p + "q_a_proj.bias", c.q_lora_rank, Init::bias);
    a.q_a_norm = source.vector(p + "q_a_layernorm.weight", c.q_lora_rank, Init::norm);
    a.q_b = source.matrix(p + "q_b_proj.weight", q_width, c.q_lora_rank);
  }
  const std::size_t compressed = c.kv_lora_rank + c.qk_rope_head_dim;
  a.kv_a = source.matrix(p + "kv_a_proj_with_mqa.weight", compressed, c.hidden_size);
  if (bias) a.kv_a_bias = source.vector(p + "kv_a_proj_with_mqa.bias", compressed, Init::bias);
  a.kv_a_norm = source.vector(p + "kv_a_layernorm.weight", c.kv_lora_rank, Init::norm);
  a.kv_b = source.matrix(p + "kv_b_proj.weight", c.num_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
  a.o = source.matrix(p + "o_proj.weight", c.hidden_size, c.num_heads * c.v_head_dim);
  if (bias) a.o_bias = source.vector(p + "o_proj.bias", c.hidden_size, Init::bias);
  a.inputs = {static_cast<int>(c.num_heads),
              static_cast<int>(c.qk_nope_head_dim),
              static_cast<int>(c.qk_rope_head_dim),
              static_cast<int>(c.kv_lora_rank),
              a.kv_a_norm.data(),
              c.rms_norm_eps,
              c.rope_interleave ? cpu::RopeLayout::interleaved : cpu::RopeLayout::half_split};
  const int attention_head = static_cast<int>(compressed);
  a.shape = {static_cast<int>(c.num_heads),
             1,
             attention_head,
             static_cast<int>(c.kv_lora_rank),
             static_cast<int>(c.num_heads) * attention_head,
             mla_softmax_scale(c)};
  a.q_lora_rank = static_cast<int>(c.q_lora_rank);
  a.value_dim = static_cast<int>(c.v_head_dim);
  return a;
}

template <class W>
Mlp<W> bind_mlp(Source<W>& source, const std::string& prefix, const MlpNames& names, std::size_t hidden,
                std::size_t intermediate) {
  Mlp<W> mlp;
  mlp.gate_up = source.stacked(
      {{prefix + names.gate + ".weight", intermediate}, {prefix + names.up + ".weight", intermediate}}, hidden);
  mlp.down = source.matrix(prefix + names.down + ".weight", hidden, intermediate);
  mlp.intermediate = static_cast<int>(intermediate);
  return mlp;
}

template <class W>
Experts<W> bind_experts(Source<W>& source, const ModelConfig& c, const FeedForwardSpec& spec) {
  Experts<W> x;
  x.router = source.float_matrix(spec.prefix + "gate.weight", c.num_experts, c.hidden_size);
  if (spec.selection_bias) {
    x.selection_bias = source.vector(spec.prefix + "gate.e_score_correction_bias", c.num_experts, Init::bias);
  }
  x.routing = router_params(spec.routing, static_cast<int>(c.num_experts));
  std::vector<WeightLoader::Part> gate_up_parts;
  std::vector<WeightLoader::Part> down_parts;
  for (std::size_t e = 0; e < c.num_experts; ++e) {
    const std::string expert = spec.prefix + "experts." + std::to_string(e) + ".";
    gate_up_parts.push_back({expert + spec.names.gate + ".weight", c.moe_intermediate_size});
    gate_up_parts.push_back({expert + spec.names.up + ".weight", c.moe_intermediate_size});
    down_parts.push_back({expert + spec.names.down + ".weight", c.hidden_size});
  }
  x.gate_up = source.stacked(gate_up_parts, c.hidden_size);
  x.down = source.stacked(down_parts, c.moe_intermediate_size);
  x.intermediate = static_cast<int>(c.moe_intermediate_size);
  if (spec.shared != FeedForwardSpec::Shared::none) {
    x.shared = bind_mlp(source, spec.prefix + spec.shared_prefix, MlpNames{}, c.hidden_size, spec.shared_intermediate);
  }
  if (spec.shared == FeedForwardSpec::Shared::gated) {
    x.shared_gate = source.float_matrix(spec.prefix + "shared_expert_gate.weight", 1, c.hidden_size);
  }
  return x;
}

template <class W>
Layer<W> bind_layer(Source<W>& source, const ModelConfig& c, std::size_t index) {
  const LayerSpec spec = layer_spec(c, index);
  const std::string prefix = layer_prefix(index);
  Layer<W> layer{source.vector(prefix + "input_layernorm.weight", c.hidden_size, Init::norm),
                 GroupedQueryAttention<W>{},
                 source.vector(prefix + "post_attention_layernorm.weight", c.hidden_size, Init::norm), Mlp<W>{}};
  if (spec.attention.kind == AttentionSpec::Kind::latent) {
    layer.attention = bind_latent(source, c, spec.attention);
  } else {
    layer.attention = bind_grouped_query(source, c, spec.attention);
  }
  if (spec.ffn.kind == FeedForwardSpec::Kind::mixture) {
    layer.ffn = bind_experts(source, c, spec.ffn);
  } else {
    layer.ffn = bind_mlp(source, spec.ffn.prefix, spec.ffn.names, c.hidden_size, spec.ffn.intermediate);
  }
  return layer;
}

// ---- the sequences ----

template <class W>
struct GpuSequence final : BatchModel::Sequence {
  GpuSequence(PagedKvCache<W>& cache_, const SamplingConfig& sampling) : cache(cache_), config(sampling) {}
  ~GpuSequence() override { cache.release(pages); }
  std::size_t length() const override { return cached; }

  PagedKvCache<W>& cache;
  SamplingConfig config;
  std::vector<int> pages;
  std::size_t cached = 0;
};

// What a step needs on the device besides the weights, sized once for the largest step.
template <class W>
struct Workspace {
  DeviceBuffer<float> hidden, normed_f32, cos, sin, projection, query, scratch;
  DeviceBuffer<unsigned> attention_tickets;  // zeroed; the attention kernels leave them zeroed
  DeviceBuffer<W> normed, attended;
  // MLA
  DeviceBuffer<float> kv, q_latent;
  DeviceBuffer<W> q_latent_w, q_nope, values;
  // feed-forward
  DeviceBuffer<float> gate_up, expert_out, shared_out, router_logits, route_weights;
  DeviceBuffer<W> act, x_sorted;
  DeviceBuffer<int> expert_ids, offsets, order, slot_of, dense_offsets, identity_order;
  DeviceBuffer<unsigned> route_ticket;  // zero between launches: route_token_row resets it
  // output
  DeviceBuffer<W> final_normed;
  DeviceBuffer<float> logits;
  DeviceBuffer<int> tokens;
  DeviceBuffer<unsigned long long> sample_scratch;  // zero between launches: sample_tokens resets it
};

// The step's metadata: one array of ints on the host and the device at fixed offsets (so captured
// graphs find it where they were captured), copied in one piece up to the last page id used.
struct StepLayout {
  std::size_t rows_capacity = 0;
  std::size_t sequences_capacity = 0;
  std::size_t token() const { return 0; }
  std::size_t position() const { return rows_capacity; }
  std::size_t sequence() const { return 2 * rows_capacity; }
  std::size_t logit_row() const { return 3 * rows_capacity; }
  std::size_t page_offset() const { return 4 * rows_capacity; }
  std::size_t pages() const { return 4 * rows_capacity + sequences_capacity; }
};

// What one step looks like, planned on the host.
struct StepPlan {
  int rows = 0;
  int sequences = 0;
  int logit_rows = 0;
  int max_positions = 0;  // longest sequence after the step
  std::size_t ints = 0;   // of the metadata to copy
  bool decode_only = true;
  bool any_sampled = false;  // a row draws rather than takes the argmax
};

template <class W>
class CudaModelImpl final : public CudaModel {
 public:
  CudaModelImpl(const ModelConfig& config, const CudaModelOptions& options, Source<W>& source)
      : config_(config), options_(options), blas_(make_stream()) {
    cudaDeviceProp prop{};
    RBENCH_CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
    gpu_name_ = prop.name;
    multiprocessors_ = prop.multiProcessorCount;
    load_weights(source);
    allocate_workspace();
    allocate_cache();
  }

  ~CudaModelImpl() override {
    cudaSetDevice(options_.device);
    graphs_.clear();
    for (cudaEvent_t event : events_) cudaEventDestroy(event);
    cudaStreamDestroy(stream_);
  }

  const ModelConfig& config() const override { return config_; }
  void set_dump_hook(DumpHook hook) override { dump_ = std::move(hook); }
  std::size_t graph_replays() const override { return replays_; }
  void set_profiling(bool on) override {
    profiling_ = on;
    if (on) profile_.clear();
  }
  std::map<std::string, double> profile() const override { return profile_; }
  void set_disabled_ops(const std::set<std::string>& families) override {
    disabled_ops_ = families;
    for (auto& [key, graph] : graphs_) graph->set_disabled(disabled_ops_);
  }
  std::set<std::string> decode_op_families() const override {
    std::set<std::string> names;
    for (const auto& [key, graph] : graphs_) names.merge(graph->families());
    return names;
  }
  CudaModelInfo info() const override {
    return {gpu_name_, weight_bytes_, cache_->pages() * cache_->page_size(), cache_->bytes()};
  }
  std::size_t max_step_tokens() const override { return options_.max_step_tokens; }
  std::size_t weight_bytes_per_token() const override { return bytes_per_token_; }

  std::unique_ptr<Sequence> open_sequence(const SamplingConfig& sampling) override {
    return std::make_unique<GpuSequence<W>>(*cache_, sampling);
  }
  bool reserve(Sequence& sequence, std::size_t new_length) override {
    return cache_->grow(gpu(sequence).pages, new_length);
  }
  void release(Sequence& sequence) override {
    cache_->release(gpu(sequence).pages);
    gpu(sequence).cached = 0;
  }

  std::vector<TokenId> step(std::span<const Step> batch) override {
    RBENCH_CUDA_CHECK(cudaSetDevice(options_.device));
    const StepPlan plan = plan_step(batch, false);
    const StepRows rows = step_rows(plan.rows, plan.sequences);
    const int n = plan.sequences;
    if (plan.decode_only && use_graph(plan.rows)) {
      replay_decode_graph(plan);
    } else {
      upload_metadata(plan);
      mark("start");
      enqueue_step(rows, plan.max_positions, n, plan.any_sampled);
    }
    RBENCH_CUDA_CHECK(
        cudaMemcpyAsync(tokens_host_.data(), work_.tokens.data(), n * sizeof(int), cudaMemcpyDeviceToHost, stream_));
    RBENCH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    collect_profile();
    std::vector<TokenId> tokens(batch.size(), -1);
    for (int s = 0; s < n; ++s) {
      if (batch[s].sample) tokens[s] = tokens_host_[s];
    }
    advance(batch);
    return tokens;
  }

  std::vector<cpu::Matrix> logits(std::span<const Step> batch, bool all_positions) override {
    RBENCH_CUDA_CHECK(cudaSetDevice(options_.device));
    const StepPlan plan = plan_step(batch, all_positions);
    upload_metadata(plan);
    mark("start");
    enqueue_layers(step_rows(plan.rows, plan.sequences), plan.max_positions);
    // The output head runs over the wanted rows in pieces of what the logits buffer holds.
    std::vector<float> all(static_cast<std::size_t>(plan.logit_rows) * vocab());
    const int piece = options_.max_sequences;
    for (int first = 0; first < plan.logit_rows; first += piece) {
      const int count = std::min(piece, plan.logit_rows - first);
      enqueue_head(first, count);
      RBENCH_CUDA_CHECK(cudaMemcpyAsync(all.data() + static_cast<std::size_t>(first) * vocab(), work_.logits.data(),
                                        static_cast<std::size_t>(count) * vocab() * sizeof(float),
                                        cudaMemcpyDeviceToHost, stream_));
    }
    RBENCH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    collect_profile();
    std::vector<cpu::Matrix> per_sequence;
    std::size_t next = 0;
    for (const Step& step : batch) {
      const std::size_t count = all_positions ? step.tokens.size() : 1;
      cpu::Matrix matrix(count, vocab());
      std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(next * vocab()), count * vocab(), matrix.values().begin());
      next += count;
      per_sequence.push_back(std::move(matrix));
    }
    advance(batch);
    return per_sequence;
  }

 private:
  static GpuSequence<W>& gpu(Sequence& sequence) { return static_cast<GpuSequence<W>&>(sequence); }
  std::size_t vocab() const { return config_.vocab_size; }
  int hidden() const { return static_cast<int>(config_.hidden_size); }

  cudaStream_t make_stream() {
    RBENCH_CUDA_CHECK(cudaSetDevice(options_.device));
    // A blocking stream: the synchronous copies of loading order themselves after its work.
    RBENCH_CUDA_CHECK(cudaStreamCreate(&stream_));
    return stream_;
  }

  // ---- loading ----

  void load_weights(Source<W>& source) {
    const ModelConfig& c = config_;
    embedding_ = source.matrix("model.embed_tokens.weight", c.vocab_size, c.hidden_size);
    for (std::size_t i = 0; i < c.num_layers; ++i) layers_.push_back(bind_layer(source, c, i));
    final_norm_ = source.vector("model.norm.weight", c.hidden_size, Init::norm);
    if (!c.tie_word_embeddings) output_head_ = source.matrix("lm_head.weight", c.vocab_size, c.hidden_size);
    const RopeTable rope = make_rope_table(c);
    inv_freq_ = DeviceBuffer<double>::from(rope.inv_freq);
    rope_factor_ = rope.attention_factor;
    count_weight_bytes();
  }

  const W* head() const { return output_head_.empty() ? embedding_.data() : output_head_.data(); }

  void count_weight_bytes() {
    const std::size_t head_bytes = config_.vocab_size * config_.hidden_size * sizeof(W);
    weight_bytes_ = embedding_.bytes() + output_head_.bytes() + final_norm_.bytes();
    bytes_per_token_ = head_bytes + final_norm_.bytes();
    for (const Layer<W>& layer : layers_) {
      std::size_t attention = 0;
      std::visit(
          [&](const auto& a) {
            if constexpr (std::is_same_v<std::decay_t<decltype(a)>, GroupedQueryAttention<W>>) {
              attention = a.qkv.bytes() + a.o.bytes() + a.qkv_bias.bytes() + a.o_bias.bytes() + a.q_norm.bytes() +
                          a.k_norm.bytes();
            } else {
              attention = a.q_proj.bytes() + a.q_a.bytes() + a.q_b.bytes() + a.kv_a.bytes() + a.kv_b.bytes() +
                          a.o.bytes() + a.q_a_norm.bytes() + a.kv_a_norm.bytes();
            }
          },
          layer.attention);
      std::size_t all_ffn = 0;
      std::size_t token_ffn = 0;
      std::visit(
          [&](const auto& f) {
            if constexpr (std::is_same_v<std::decay_t<decltype(f)>, Mlp<W>>) {
              all_ffn = token_ffn = f.gate_up.bytes() + f.down.bytes();
            } else {
              const std::size_t shared = f.shared ? f.shared->gate_up.bytes() + f.shared->down.bytes() : 0;
              const std::size_t experts = f.gate_up.bytes() + f.down.bytes();
              const std::size_t common = f.router.bytes() + f.selection_bias.bytes() + f.shared_gate.bytes() + shared;
              all_ffn = experts + common;
              token_ffn = experts / static_cast<std::size_t>(f.routing.experts) * f.routing.top_k + common;
            }
          },
          layer.ffn);
      const std::size_t norms = layer.attention_norm.bytes() + layer.ffn_norm.bytes();
      weight_bytes_ += attention + all_ffn + norms;
      bytes_per_token_ += attention + token_ffn + norms;
    }
  }

  // Sizes of the step buffers: the largest any layer needs, for max_step_tokens rows.
  void allocate_workspace() {
    const ModelConfig& c = config_;
    const std::size_t rows = options_.max_step_tokens;
    const std::size_t sequences = static_cast<std::size_t>(options_.max_sequences);
    const std::size_t h = c.hidden_size;
    const std::size_t top_k = std::max<std::size_t>(1, c.experts_per_token);
    const std::size_t assignments = rows * top_k;
    std::size_t projection = 0, query = 0, attended = 0, value_dim = 0, heads = c.num_heads;
    std::size_t gate_up = 0;
    bool any_latent = false, any_experts = false;
    for (const Layer<W>& layer : layers_) {
      if (const auto* a = std::get_if<GroupedQueryAttention<W>>(&layer.attention)) {
        projection = std::max(projection,
                              static_cast<std::size_t>(a->inputs.heads + 2 * a->inputs.kv_heads) * a->inputs.head_dim);
        query = std::max(query, static_cast<std::size_t>(a->shape.q_stride));
        attended = std::max(attended, static_cast<std::size_t>(a->shape.heads) * a->shape.value_dim);
        value_dim = std::max(value_dim, static_cast<std::size_t>(a->shape.value_dim));
      } else {
        const auto& m = std::get<LatentAttention<W>>(layer.attention);
        any_latent = true;
        projection = std::max(projection, heads * (c.qk_nope_head_dim + c.qk_rope_head_dim));
        query = std::max(query, static_cast<std::size_t>(m.shape.q_stride));
        attended = std::max(attended, heads * c.kv_lora_rank);
        value_dim = std::max(value_dim, static_cast<std::size_t>(m.shape.value_dim));
      }
      if (const auto* mlp = std::get_if<Mlp<W>>(&layer.ffn)) {
        gate_up = std::max(gate_up, rows * 2 * mlp->intermediate);
      } else {
        const auto& x = std::get<Experts<W>>(layer.ffn);
        any_experts = true;
        gate_up = std::max(gate_up, assignments * 2 * x.intermediate);
        if (x.shared) gate_up = std::max(gate_up, rows * 2 * x.shared->intermediate);
      }
    }
    Workspace<W>& w = work_;
    w.hidden = DeviceBuffer<float>(rows * h);
    w.normed_f32 = DeviceBuffer<float>(rows * h);
    w.normed = DeviceBuffer<W>(rows * h);
    w.cos = DeviceBuffer<float>(rows * inv_freq_.size());
    w.sin = DeviceBuffer<float>(rows * inv_freq_.size());
    w.projection = DeviceBuffer<float>(rows * projection);
    w.query = DeviceBuffer<float>(rows * query);
    w.attended = DeviceBuffer<W>(rows * attended);
    // Split-softmax partials for decode-sized steps: up to 16 splits of max_sequences rows.
    w.scratch = DeviceBuffer<float>(std::min<std::size_t>(sequences * heads * 16 * (value_dim + 2), 32u << 20));
    // One ticket per (row, kv head, head chunk): at most one per query head of each row.
    w.attention_tickets = DeviceBuffer<unsigned>::from(std::vector<unsigned>(rows * heads, 0u));
    if (any_latent) {
      w.kv = DeviceBuffer<float>(rows * (c.kv_lora_rank + c.qk_rope_head_dim));
      w.q_latent = DeviceBuffer<float>(rows * c.q_lora_rank);
      w.q_latent_w = DeviceBuffer<W>(rows * c.q_lora_rank);
      w.q_nope = DeviceBuffer<W>(rows * heads * c.qk_nope_head_dim);
      w.values = DeviceBuffer<W>(rows * heads * c.v_head_dim);
    }
    w.gate_up = DeviceBuffer<float>(gate_up);
    w.act = DeviceBuffer<W>(gate_up / 2);
    if (any_experts) {
      w.expert_out = DeviceBuffer<float>(assignments * h);
      w.shared_out = DeviceBuffer<float>(rows * h);
      w.router_logits = DeviceBuffer<float>(rows * c.num_experts);
      w.route_weights = DeviceBuffer<float>(assignments);
      w.x_sorted = DeviceBuffer<W>(assignments * h);
      w.expert_ids = DeviceBuffer<int>(assignments);
      w.order = DeviceBuffer<int>(assignments);
      w.slot_of = DeviceBuffer<int>(assignments);
      w.offsets = DeviceBuffer<int>(c.num_experts + 1);
      w.route_ticket = DeviceBuffer<unsigned>::from(std::vector<unsigned>(1, 0u));
      offsets_host_ = PinnedBuffer<int>(c.num_experts + 1);
    }
    // A dense MLP on few rows runs as one expert that every row is routed to.
    std::vector<int> dense_offsets;
    std::vector<int> identity;
    for (int n = 1; n <= small_linear_max_rows; ++n) {
      dense_offsets.insert(dense_offsets.end(), {0, n});
      identity.push_back(n - 1);
    }
    w.dense_offsets = DeviceBuffer<int>::from(dense_offsets);
    w.identity_order = DeviceBuffer<int>::from(identity);
    w.final_normed = DeviceBuffer<W>(sequences * h);
    w.logits = DeviceBuffer<float>(sequences * c.vocab_size);
    w.tokens = DeviceBuffer<int>(sequences);
    w.sample_scratch = DeviceBuffer<unsigned long long>::from(
        std::vector<unsigned long long>(sampling_scratch_words(options_.max_sequences), 0));
    tokens_host_ = PinnedBuffer<int>(sequences);
    sampling_host_ = PinnedBuffer<SamplingParams>(sequences);
    sampling_device_ = DeviceBuffer<SamplingParams>(sequences);
  }

  void allocate_cache() {
    const ModelConfig& c = config_;
    const bool latent = c.uses_mla();
    const std::size_t key_row = latent ? c.kv_lora_rank + c.qk_rope_head_dim : c.num_kv_heads * c.head_dim;
    const std::size_t value_row = latent ? 0 : c.num_kv_heads * c.head_dim;
    const std::size_t page_size = static_cast<std::size_t>(options_.page_size);
    const std::size_t page_bytes = PagedKvCache<W>::bytes_per_page(c.num_layers, key_row, value_row, page_size);
    std::size_t budget = options_.kv_cache_bytes;
    if (budget == 0) {
      std::size_t free = 0, total = 0;
      RBENCH_CUDA_CHECK(cudaMemGetInfo(&free, &total));
      // Room for the step's metadata and cuBLAS's own needs besides the fraction asked for.
      const std::size_t reserve = std::size_t{1} << 30;
      budget = free > reserve
                   ? static_cast<std::size_t>(static_cast<double>(free - reserve) * options_.kv_cache_fraction)
                   : 0;
    }
    const std::size_t pages = budget / page_bytes;
    if (pages == 0) throw UserError("no GPU memory is left for the KV cache once the weights are loaded");
    cache_ = std::make_unique<PagedKvCache<W>>(c.num_layers, key_row, value_row, page_size, pages);
    layout_ = {options_.max_step_tokens, static_cast<std::size_t>(options_.max_sequences)};
    const std::size_t ints = layout_.pages() + pages;
    metadata_host_ = PinnedBuffer<int>(ints);
    metadata_device_ = DeviceBuffer<int>(ints);
  }

  // ---- a step ----

  StepPlan plan_step(std::span<const Step> batch, bool all_positions) {
    StepPlan plan;
    plan.sequences = static_cast<int>(batch.size());
    if (batch.size() > layout_.sequences_capacity) {
      throw std::invalid_argument("a step of " + std::to_string(batch.size()) + " sequences exceeds the model's " +
                                  std::to_string(layout_.sequences_capacity));
    }
    int* meta = metadata_host_.data();
    std::size_t page_cursor = layout_.pages();
    for (std::size_t s = 0; s < batch.size(); ++s) {
      const Step& step = batch[s];
      GpuSequence<W>& sequence = gpu(*step.sequence);
      const std::size_t length = sequence.cached + step.tokens.size();
      if (step.tokens.empty()) throw std::invalid_argument("CudaModel: a sequence has no new tokens");
      if (sequence.pages.size() * cache_->page_size() < length) {
        throw std::logic_error("CudaModel: reserve() the cache before a step");
      }
      if (static_cast<std::size_t>(plan.rows) + step.tokens.size() > layout_.rows_capacity) {
        throw std::invalid_argument("a step of more than " + std::to_string(layout_.rows_capacity) +
                                    " tokens: feed long prompts in pieces of max_step_tokens()");
      }
      plan.decode_only = plan.decode_only && step.tokens.size() == 1 && step.sample;
      plan.max_positions = std::max(plan.max_positions, static_cast<int>(length));
      meta[layout_.page_offset() + s] = static_cast<int>(page_cursor - layout_.pages());
      for (int page : sequence.pages) meta[page_cursor++] = page;
      for (std::size_t i = 0; i < step.tokens.size(); ++i) {
        const TokenId token = step.tokens[i];
        if (token < 0 || static_cast<std::size_t>(token) >= vocab()) {
          throw UserError("token id " + std::to_string(token) + " is outside the model's vocabulary of " +
                          std::to_string(vocab()));
        }
        const int row = plan.rows++;
        meta[layout_.token() + row] = token;
        meta[layout_.position() + row] = static_cast<int>(sequence.cached + i);
        meta[layout_.sequence() + row] = static_cast<int>(s);
        if (all_positions || i + 1 == step.tokens.size()) meta[layout_.logit_row() + plan.logit_rows++] = row;
      }
      sampling_host_[s] = sampling_params(sequence.config, length);
      plan.any_sampled = plan.any_sampled || !sampling_host_[s].greedy;
    }
    plan.ints = page_cursor;
    return plan;
  }

  static SamplingParams sampling_params(const SamplingConfig& config, std::size_t length) {
    SamplingParams p;
    p.greedy = config.greedy || config.temperature <= 0.0f;
    p.temperature = config.temperature;
    p.top_p = config.top_p;
    p.min_p = config.min_p;
    p.top_k = config.top_k;
    p.seed = config.seed;
    p.draw = length;  // the position of the token drawn
    return p;
  }

  void upload_metadata(const StepPlan& plan) {
    RBENCH_CUDA_CHECK(cudaMemcpyAsync(metadata_device_.data(), metadata_host_.data(), plan.ints * sizeof(int),
                                      cudaMemcpyHostToDevice, stream_));
    RBENCH_CUDA_CHECK(cudaMemcpyAsync(sampling_device_.data(), sampling_host_.data(),
                                      plan.sequences * sizeof(SamplingParams), cudaMemcpyHostToDevice, stream_));
  }

  StepRows step_rows(int rows, int sequences) {
    const int* meta = metadata_device_.data();
    return {rows,
            meta + layout_.token(),
            meta + layout_.position(),
            meta + layout_.sequence(),
            meta + layout_.page_offset(),
            meta + layout_.pages(),
            static_cast<int>(cache_->page_size()),
            rows == sequences};
  }

  void advance(std::span<const Step> batch) {
    for (const Step& step : batch) gpu(*step.sequence).cached += step.tokens.size();
  }

  // ---- CUDA graphs for decode steps ----

  // Every launch of a decode step depends on its batch size alone when the MoE layers take the
  // small-batch path (the large one reads expert counts back to the host).
  bool use_graph(int rows) const {
    return options_.cuda_graphs && !graphs_failed_ && !dump_ && !profiling_ && uses_small_expert_path(rows);
  }

  // ---- profiling: an event after each op family; the time since the previous event is the op's ----

  void mark(const char* name) {
    if (capturing_ != nullptr) capturing_->close_family(name, stream_);
    if (!profiling_) return;
    if (marks_.size() == events_.size()) {
      cudaEvent_t event = nullptr;
      RBENCH_CUDA_CHECK(cudaEventCreate(&event));
      events_.push_back(event);
    }
    RBENCH_CUDA_CHECK(cudaEventRecord(events_[marks_.size()], stream_));
    marks_.push_back(name);
  }

  void collect_profile() {
    for (std::size_t i = 1; i < marks_.size(); ++i) {
      float ms = 0;
      RBENCH_CUDA_CHECK(cudaEventElapsedTime(&ms, events_[i - 1], events_[i]));
      profile_[marks_[i]] += ms;
    }
    marks_.clear();
  }

  // A graph is captured per batch size, per power-of-two bucket of the longest sequence (which sets
  // how far attention splits its positions: the splits grow with the context) and per kind of
  // sampling (greedy steps leave out the sampled rows' launch).
  void replay_decode_graph(const StepPlan& plan) {
    upload_metadata(plan);
    const int bucket = std::max(256, static_cast<int>(std::bit_ceil(static_cast<unsigned>(plan.max_positions))));
    const std::tuple<int, int, bool> key{plan.rows, bucket, plan.any_sampled};
    auto found = graphs_.find(key);
    if (found == graphs_.end()) found = graphs_.emplace(key, capture_decode(plan.rows, bucket, plan.any_sampled)).first;
    if (found->second == nullptr) {  // capture failed: run eagerly from now on
      graphs_.erase(found);
      enqueue_step(step_rows(plan.rows, plan.sequences), plan.max_positions, plan.sequences, plan.any_sampled);
      return;
    }
    found->second->replay(stream_);
    ++replays_;
  }

  std::unique_ptr<DecodeGraph> capture_decode(int rows, int max_positions, bool any_sampled) {
    auto graph = std::make_unique<DecodeGraph>();
    RBENCH_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    capturing_ = graph.get();
    bool captured = true;
    try {
      enqueue_step(step_rows(rows, rows), max_positions, rows, any_sampled);
    } catch (const CudaError&) {
      captured = false;
    }
    capturing_ = nullptr;
    if (!graph->finish(stream_) || !captured) {
      graphs_failed_ = true;
      return nullptr;
    }
    graph->set_disabled(disabled_ops_);
    return graph;
  }

  // ---- the forward pass ----

  // y (+)= x · wᵀ into float32: few rows stream the weights through rbench's kernel, more go to cuBLAS.
  template <class T>
  void linear(const T* x, int ldx, const T* w, int out, int in, int rows, float* y, int ldy, bool accumulate) {
    if (streams_weights(rows, in, ldx, vector_width<T>())) {
      small_linear<T>(x, ldx, w, out, in, rows, y, ldy, accumulate, stream_);
    } else {
      blas_.linear<T, float>(x, ldx, w, out, in, rows, y, ldy, accumulate ? 1.0f : 0.0f);
    }
  }
  template <class T>
  static constexpr int vector_width() {
    return 16 / static_cast<int>(sizeof(T));
  }
  bool streams_weights(int rows, int in, int ldx, int width) const {
    return options_.small_batch_kernels && rows <= small_linear_max_rows && in % width == 0 && ldx % width == 0;
  }
  // Past a few rows, bf16 experts run on the tensor cores (float32 weights keep the exact kernels).
  bool uses_tensor_cores(int rows) const { return std::is_same_v<W, bf16> && rows > small_linear_max_rows; }
  bool uses_small_expert_path(int rows) const {
    const std::size_t top_k = std::max<std::size_t>(1, config_.experts_per_token);
    return options_.small_batch_kernels &&
           (config_.num_experts == 0 || static_cast<std::size_t>(rows) * top_k <= 16 * config_.num_experts);
  }

  template <class T>
  void dump(std::string_view name, int layer, const T* device, int rows, int cols) {
    if (!dump_) return;
    RBENCH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<T> values(static_cast<std::size_t>(rows) * cols);
    RBENCH_CUDA_CHECK(cudaMemcpy(values.data(), device, values.size() * sizeof(T), cudaMemcpyDeviceToHost));
    cpu::Matrix matrix(rows, cols);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<T, float>) {
        matrix.values()[i] = values[i];
      } else {
        matrix.values()[i] = __bfloat162float(values[i]);
      }
    }
    dump_(name, layer, matrix);
  }

  // A step's layers, output head and sampling, for `sequences` logit rows (the last of each sequence).
  void enqueue_step(const StepRows& rows, int max_positions, int sequences, bool any_sampled) {
    enqueue_layers(rows, max_positions);
    enqueue_head(0, sequences);
    sample_tokens(work_.logits.data(), sequences, vocab(), sampling_device_.data(), work_.sample_scratch.data(),
                  work_.tokens.data(), any_sampled, stream_);
    mark("sample");
  }

  void enqueue_layers(const StepRows& rows, int max_positions) {
    const int n = rows.rows;
    const int h = hidden();
    Workspace<W>& w = work_;
    embed_rows<W>(embedding_.data(), h, rows, w.hidden.data(), stream_);
    dump("token_embd", -1, w.hidden.data(), n, h);
    rope_angles(inv_freq_.data(), static_cast<int>(inv_freq_.size()), rope_factor_, rows, w.cos.data(), w.sin.data(),
                stream_);
    mark("embed");
    for (std::size_t index = 0; index < layers_.size(); ++index) {
      const Layer<W>& layer = layers_[index];
      const int l = static_cast<int>(index);
      rms_norm<W>(w.hidden.data(), h, n, h, layer.attention_norm.data(), h, config_.rms_norm_eps, nullptr,
                  dump_ ? w.normed_f32.data() : nullptr, w.normed.data(), stream_);
      mark("norm");
      dump("attn_norm", l, w.normed_f32.data(), n, h);
      std::visit([&](const auto& attention) { enqueue_attention(attention, index, rows, max_positions); },
                 layer.attention);
      dump("ffn_inp", l, w.hidden.data(), n, h);
      const bool experts = std::holds_alternative<Experts<W>>(layer.ffn);
      rms_norm<W>(w.hidden.data(), h, n, h, layer.ffn_norm.data(), h, config_.rms_norm_eps, nullptr,
                  experts || dump_ ? w.normed_f32.data() : nullptr, w.normed.data(), stream_);
      mark("norm");
      dump("ffn_norm", l, w.normed_f32.data(), n, h);
      std::visit([&](const auto& ffn) { enqueue_ffn(ffn, l, n); }, layer.ffn);
      dump("l_out", l, w.hidden.data(), n, h);
    }
  }

  int splits_for(const AttentionShape& shape, int rows, int max_positions) const {
    return attention_splits<W>(shape, rows, max_positions, multiprocessors_, work_.scratch.size());
  }

  void enqueue_attention(const GroupedQueryAttention<W>& a, std::size_t layer, const StepRows& rows,
                         int max_positions) {
    Workspace<W>& w = work_;
    const int n = rows.rows;
    const int h = hidden();
    const int q_width = a.inputs.heads * a.inputs.head_dim;
    const int width = q_width + 2 * a.inputs.kv_heads * a.inputs.head_dim;
    const LayerCache<W> cache = cache_->layer(layer);
    linear<W>(w.normed.data(), h, a.qkv.data(), width, h, n, w.projection.data(), width, false);
    mark("qkv_proj");
    prepare_gqa<W>(w.projection.data(), a.inputs, w.cos.data(), w.sin.data(), static_cast<int>(inv_freq_.size()), rows,
                   w.query.data(), cache, stream_);
    mark("rope_and_cache");
    dump("q_rope", static_cast<int>(layer), w.query.data(), n, q_width);
    paged_attention<W>(w.query.data(), a.shape, cache, rows, splits_for(a.shape, n, max_positions), w.scratch.data(),
                       w.attention_tickets.data(), w.attended.data(), stream_);
    mark("attention");
    dump("kqv_out", static_cast<int>(layer), w.attended.data(), n, q_width);
    linear<W>(w.attended.data(), q_width, a.o.data(), h, q_width, n, w.hidden.data(), h, true);
    if (!a.o_bias.empty()) add_bias(w.hidden.data(), h, a.o_bias.data(), n, h, stream_);
    mark("o_proj");
  }

  void enqueue_attention(const LatentAttention<W>& a, std::size_t layer, const StepRows& rows, int max_positions) {
    Workspace<W>& w = work_;
    const MlaInputs& in = a.inputs;
    const int n = rows.rows;
    const int h = hidden();
    const int q_width = in.heads * (in.nope_dim + in.rope_dim);
    const int kv_width = in.latent_dim + in.rope_dim;
    const LayerCache<W> cache = cache_->layer(layer);
    if (a.q_lora_rank == 0) {
      linear<W>(w.normed.data(), h, a.q_proj.data(), q_width, h, n, w.projection.data(), q_width, false);
    } else {
      const int rank = a.q_lora_rank;
      linear<W>(w.normed.data(), h, a.q_a.data(), rank, h, n, w.q_latent.data(), rank, false);
      if (!a.q_a_bias.empty()) add_bias(w.q_latent.data(), rank, a.q_a_bias.data(), n, rank, stream_);
      rms_norm<W>(w.q_latent.data(), rank, n, rank, a.q_a_norm.data(), rank, config_.rms_norm_eps, nullptr, nullptr,
                  w.q_latent_w.data(), stream_);
      linear<W>(w.q_latent_w.data(), rank, a.q_b.data(), q_width, rank, n, w.projection.data(), q_width, false);
    }
    dump("q", static_cast<int>(layer), w.projection.data(), n, q_width);
    linear<W>(w.normed.data(), h, a.kv_a.data(), kv_width, h, n, w.kv.data(), kv_width, false);
    if (!a.kv_a_bias.empty()) add_bias(w.kv.data(), kv_width, a.kv_a_bias.data(), n, kv_width, stream_);
    prepare_mla<W>(w.projection.data(), w.kv.data(), in, w.cos.data(), w.sin.data(), rows, w.q_nope.data(),
                   w.query.data(), cache, stream_);
    // Queries in latent space: per head, q_nope · W_k (W_k: kv_b's key rows of that head, [nope, latent]).
    const std::size_t head_rows = static_cast<std::size_t>(in.nope_dim + a.value_dim) * in.latent_dim;
    blas_.batched_linear<W, float>(w.q_nope.data(), in.heads * in.nope_dim, in.nope_dim, a.kv_b.data(), false,
                                   in.latent_dim, head_rows, in.latent_dim, in.nope_dim, n, w.query.data(),
                                   a.shape.q_stride, kv_width, in.heads, 0.0f);
    paged_attention<W>(w.query.data(), a.shape, cache, rows, splits_for(a.shape, n, max_positions), w.scratch.data(),
                       w.attention_tickets.data(), w.attended.data(), stream_);
    // Values out of latent space: per head, attended · W_vᵀ (W_v: kv_b's value rows, [value, latent]).
    const int values_width = in.heads * a.value_dim;
    blas_.batched_linear<W, W>(w.attended.data(), in.heads * in.latent_dim, in.latent_dim,
                               a.kv_b.data() + static_cast<std::size_t>(in.nope_dim) * in.latent_dim, true,
                               in.latent_dim, head_rows, a.value_dim, in.latent_dim, n, w.values.data(), values_width,
                               a.value_dim, in.heads, 0.0f);
    dump("kqv_out", static_cast<int>(layer), w.values.data(), n, values_width);
    linear<W>(w.values.data(), values_width, a.o.data(), h, values_width, n, w.hidden.data(), h, true);
    if (!a.o_bias.empty()) add_bias(w.hidden.data(), h, a.o_bias.data(), n, h, stream_);
    mark("latent_attention");
  }

  // SwiGLU MLP of the normed rows into y.
  void enqueue_mlp(const Mlp<W>& mlp, int n, float* y, bool accumulate) {
    Workspace<W>& w = work_;
    const int h = hidden();
    const int intermediate = mlp.intermediate;
    const bool vectors = h % vector_width<W>() == 0 && intermediate % vector_width<W>() == 0;
    if (n == 1 && vectors && options_.small_batch_kernels) {
      expert_gate_up_rows<W>(w.normed.data(), mlp.gate_up.data(), nullptr, nullptr, 1, 1, h, intermediate, w.act.data(),
                             stream_);
    } else if (streams_weights(n, h, h, vector_width<W>()) && vectors) {
      expert_gate_up<W>(w.normed.data(), mlp.gate_up.data(), w.dense_offsets.data() + 2 * (n - 1),
                        w.identity_order.data(), 1, 1, h, intermediate, n, w.act.data(), stream_);
    } else {
      linear<W>(w.normed.data(), h, mlp.gate_up.data(), 2 * intermediate, h, n, w.gate_up.data(), 2 * intermediate,
                false);
      swiglu<W>(w.gate_up.data(), n, intermediate, w.act.data(), stream_);
    }
    mark("mlp_gate_up");
    linear<W>(w.act.data(), intermediate, mlp.down.data(), h, intermediate, n, y, h, accumulate);
    mark("mlp_down");
  }

  void enqueue_ffn(const Mlp<W>& mlp, int, int n) { enqueue_mlp(mlp, n, work_.hidden.data(), true); }

  void enqueue_ffn(const Experts<W>& x, int layer, int n) {
    Workspace<W>& w = work_;
    const int h = hidden();
    const int experts = x.routing.experts;
    const int top_k = x.routing.top_k;
    const float* selection_bias = x.selection_bias.empty() ? nullptr : x.selection_bias.data();
    const bool vectors = h % vector_width<W>() == 0 && x.intermediate % vector_width<W>() == 0;
    if (n == 1 && vectors && options_.small_batch_kernels && !x.shared) {
      // One token, no shared expert: router product and routing in one launch, nothing to group,
      // and the down products summed straight into the residual (activation rows in slot order).
      route_token_row(w.normed_f32.data(), x.router.data(), h, selection_bias, x.routing, w.router_logits.data(),
                      w.route_ticket.data(), w.expert_ids.data(), w.route_weights.data(), stream_);
      mark("router_and_route");
      dump("ffn_moe_logits", layer, w.router_logits.data(), n, experts);
      expert_gate_up_rows<W>(w.normed.data(), x.gate_up.data(), w.expert_ids.data(), nullptr, top_k, top_k, h,
                             x.intermediate, w.act.data(), stream_);
      mark("experts_gate_up");
      expert_down_combine_row<W>(w.act.data(), x.down.data(), w.expert_ids.data(), w.route_weights.data(), top_k, h,
                                 x.intermediate, w.hidden.data(), stream_);
      mark("experts_down_combine");
      return;
    }
    linear<float>(w.normed_f32.data(), h, x.router.data(), experts, h, n, w.router_logits.data(), experts, false);
    mark("router");
    dump("ffn_moe_logits", layer, w.router_logits.data(), n, experts);
    route_and_group(w.router_logits.data(), selection_bias, x.routing, n, w.expert_ids.data(), w.route_weights.data(),
                    w.offsets.data(), w.order.data(), w.slot_of.data(), stream_);
    mark("route_and_group");
    if (n == 1 && vectors && options_.small_batch_kernels) {
      expert_gate_up_rows<W>(w.normed.data(), x.gate_up.data(), w.expert_ids.data(), w.slot_of.data(), top_k, top_k, h,
                             x.intermediate, w.act.data(), stream_);
      mark("experts_gate_up");
      expert_down_rows<W>(w.act.data(), x.down.data(), w.expert_ids.data(), w.slot_of.data(), top_k, h, x.intermediate,
                          w.expert_out.data(), stream_);
      mark("experts_down");
    } else if (uses_small_expert_path(n) && vectors && uses_tensor_cores(n)) {
      if constexpr (std::is_same_v<W, bf16>) {
        expert_gate_up_mma(w.normed.data(), x.gate_up.data(), w.offsets.data(), w.order.data(), top_k, experts, h,
                           x.intermediate, w.act.data(), stream_);
        mark("experts_gate_up");
        expert_down_mma(w.act.data(), x.down.data(), w.offsets.data(), experts, h, x.intermediate, w.expert_out.data(),
                        stream_);
        mark("experts_down");
      }
    } else if (uses_small_expert_path(n) && vectors) {
      expert_gate_up<W>(w.normed.data(), x.gate_up.data(), w.offsets.data(), w.order.data(), top_k, experts, h,
                        x.intermediate, n, w.act.data(), stream_);
      mark("experts_gate_up");
      expert_down<W>(w.act.data(), x.down.data(), w.offsets.data(), experts, h, x.intermediate, n, w.expert_out.data(),
                     stream_);
      mark("experts_down");
    } else {
      run_experts_with_cublas(x, n);
      mark("experts_cublas");
    }
    const float* shared = nullptr;
    if (x.shared) {
      enqueue_mlp(*x.shared, n, w.shared_out.data(), false);
      shared = w.shared_out.data();
    }
    combine_experts(w.hidden.data(), n, h, w.expert_out.data(), w.slot_of.data(), w.route_weights.data(), top_k, shared,
                    x.shared_gate.empty() ? nullptr : x.shared_gate.data(), w.normed_f32.data(), stream_);
    mark("combine_experts");
  }

  // Large batches: each expert's rows gathered together, one cuBLAS product per expert and matrix.
  void run_experts_with_cublas(const Experts<W>& x, int n) {
    Workspace<W>& w = work_;
    const int h = hidden();
    const int experts = x.routing.experts;
    const int top_k = x.routing.top_k;
    const int intermediate = x.intermediate;
    const int assignments = n * top_k;
    RBENCH_CUDA_CHECK(cudaMemcpyAsync(offsets_host_.data(), w.offsets.data(), (experts + 1) * sizeof(int),
                                      cudaMemcpyDeviceToHost, stream_));
    RBENCH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    gather_assignment_rows<W>(w.normed.data(), w.order.data(), assignments, top_k, h, w.x_sorted.data(), stream_);
    for (int e = 0; e < experts; ++e) {
      const int first = offsets_host_[e];
      const int count = offsets_host_[e + 1] - first;
      if (count == 0) continue;
      blas_.linear<W, float>(w.x_sorted.data() + static_cast<std::size_t>(first) * h, h,
                             x.gate_up.data() + static_cast<std::size_t>(e) * 2 * intermediate * h, 2 * intermediate, h,
                             count, w.gate_up.data() + static_cast<std::size_t>(first) * 2 * intermediate,
                             2 * intermediate, 0.0f);
    }
    swiglu<W>(w.gate_up.data(), assignments, intermediate, w.act.data(), stream_);
    for (int e = 0; e < experts; ++e) {
      const int first = offsets_host_[e];
      const int count = offsets_host_[e + 1] - first;
      if (count == 0) continue;
      blas_.linear<W, float>(w.act.data() + static_cast<std::size_t>(first) * intermediate, intermediate,
                             x.down.data() + static_cast<std::size_t>(e) * h * intermediate, h, intermediate, count,
                             w.expert_out.data() + static_cast<std::size_t>(first) * h, h, 0.0f);
    }
  }

  // Final norm and output head for logit rows [first, first + count).
  void enqueue_head(int first, int count) {
    Workspace<W>& w = work_;
    const int h = hidden();
    const int* rows = metadata_device_.data() + layout_.logit_row() + first;
    rms_norm<W>(w.hidden.data(), h, count, h, final_norm_.data(), h, config_.rms_norm_eps, rows,
                dump_ ? w.normed_f32.data() : nullptr, w.final_normed.data(), stream_);
    dump("result_norm", -1, w.normed_f32.data(), count, h);
    linear<W>(w.final_normed.data(), h, head(), static_cast<int>(vocab()), h, count, w.logits.data(),
              static_cast<int>(vocab()), false);
    mark("output_head");
    dump("result_output", -1, w.logits.data(), count, static_cast<int>(vocab()));
  }

  ModelConfig config_;
  CudaModelOptions options_;
  cudaStream_t stream_ = nullptr;
  Blas blas_;
  std::string gpu_name_;
  int multiprocessors_ = 0;

  DeviceBuffer<W> embedding_;
  std::vector<Layer<W>> layers_;
  DeviceBuffer<float> final_norm_;
  DeviceBuffer<W> output_head_;  // empty when tied to the embedding
  DeviceBuffer<double> inv_freq_;
  double rope_factor_ = 1;
  std::size_t weight_bytes_ = 0;
  std::size_t bytes_per_token_ = 0;

  Workspace<W> work_;
  std::unique_ptr<PagedKvCache<W>> cache_;
  StepLayout layout_;
  PinnedBuffer<int> metadata_host_;
  DeviceBuffer<int> metadata_device_;
  PinnedBuffer<SamplingParams> sampling_host_;
  DeviceBuffer<SamplingParams> sampling_device_;
  PinnedBuffer<int> tokens_host_;
  PinnedBuffer<int> offsets_host_;

  bool profiling_ = false;
  std::vector<cudaEvent_t> events_;
  std::vector<const char*> marks_;
  std::map<std::string, double> profile_;

  // (batch size, positions bucket, any sampled) → its graph
  std::map<std::tuple<int, int, bool>, std::unique_ptr<DecodeGraph>> graphs_;
  DecodeGraph* capturing_ = nullptr;  // while a decode step is being captured
  std::set<std::string> disabled_ops_;
  bool graphs_failed_ = false;
  std::size_t replays_ = 0;
  DumpHook dump_;
};

// The GPU must exist before anything is allocated on it; a missing one is the user's to fix.
void select_device(int device) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw UserError(std::string("--device cuda: no CUDA GPU is visible (") +
                    (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices") + ")");
  }
  if (device < 0 || device >= count) {
    throw UserError("--device cuda: GPU " + std::to_string(device) + " does not exist (" + std::to_string(count) +
                    " visible)");
  }
  RBENCH_CUDA_CHECK(cudaSetDevice(device));
}

void check_supported(const ModelConfig& config) {
  const std::size_t key = config.uses_mla() ? config.kv_lora_rank + config.qk_rope_head_dim : config.head_dim;
  if (key > 640)
    throw UserError("the CUDA engine supports attention heads up to 640 wide, this model's are " + std::to_string(key));
  if (config.num_experts > 0 && config.experts_per_token > 32) {
    throw UserError("the CUDA engine routes at most 32 experts per token, this model asks for " +
                    std::to_string(config.experts_per_token));
  }
}

template <class W>
std::unique_ptr<CudaModel> make_model(const ModelConfig& config, const CudaModelOptions& options, Source<W>& source) {
  return std::make_unique<CudaModelImpl<W>>(config, options, source);
}

// CUDA failures while loading (out of memory, most likely) become errors the CLI reports plainly.
template <class Build>
std::unique_ptr<CudaModel> build_reporting_errors(const std::string& what, Build build) {
  try {
    return build();
  } catch (const CudaError& e) {
    throw UserError(what + ": " + e.what());
  }
}

}  // namespace

std::unique_ptr<CudaModel> load_cuda_model(const std::filesystem::path& dir, const CudaModelOptions& options) {
  const ModelConfig config = load_model_config(dir / "config.json");
  check_supported(config);
  select_device(options.device);
  return build_reporting_errors("loading " + dir.string() + " onto the GPU", [&]() -> std::unique_ptr<CudaModel> {
    if (options.weights == WeightType::f32) return make_model(config, options, *checkpoint_weights<float>(dir));
    return make_model(config, options, *checkpoint_weights<bf16>(dir));
  });
}

std::unique_ptr<CudaModel> random_cuda_model(const ModelConfig& config, const CudaModelOptions& options,
                                             std::uint64_t seed) {
  check_supported(config);
  select_device(options.device);
  return build_reporting_errors("making a random model on the GPU", [&]() -> std::unique_ptr<CudaModel> {
    if (options.weights == WeightType::f32) return make_model(config, options, *random_weights<float>(seed));
    return make_model(config, options, *random_weights<bf16>(seed));
  });
}

}  // namespace rbench::engine::cuda
