// Throughput of the CPU engine: prefill and decode tokens/s for a fixture model and for a randomly
// initialised Qwen2-shaped model of about 100M parameters (hidden 768, 12 layers, vocabulary 32000,
// tied embeddings), written to a temporary checkpoint and loaded through the real path.
//
// Decode is memory-bound: every step reads all weights once. weight_GB/s (weight bytes per token ×
// tokens/s at batch 1) is therefore comparable with BM_MemoryReadBandwidth, this machine's
// read bandwidth through the same thread pool; their ratio is how close decode runs to the roofline.
// Batched decode reads the weights once for the whole batch, so tokens/s grows with the batch.
//
// Threads: RBENCH_CPU_THREADS (default: all cores). Fixtures: RBENCH_SHARED (default ../shared).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/thread_pool.h"
#include "engine/model/model.h"
#include "engine/model/safetensors.h"

namespace rbench::engine {
namespace {

namespace fs = std::filesystem;

fs::path shared_dir() {
  if (const char* env = std::getenv("RBENCH_SHARED")) return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared";
}

// ---- the ~100M-parameter random model ----

struct RandomShape {
  std::size_t vocab = 32000, hidden = 768, layers = 12, heads = 12, kv_heads = 2, head_dim = 64, intermediate = 2048;
};

std::string random_config(const RandomShape& s) {
  return "{\"model_type\": \"qwen2\", \"architectures\": [\"Qwen2ForCausalLM\"], \"vocab_size\": " +
         std::to_string(s.vocab) + ", \"hidden_size\": " + std::to_string(s.hidden) +
         ", \"num_hidden_layers\": " + std::to_string(s.layers) +
         ", \"num_attention_heads\": " + std::to_string(s.heads) +
         ", \"num_key_value_heads\": " + std::to_string(s.kv_heads) +
         ", \"intermediate_size\": " + std::to_string(s.intermediate) +
         ", \"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-6, \"rope_theta\": 1000000.0,"
         " \"tie_word_embeddings\": true, \"hidden_act\": \"silu\"}";
}

// Matrices ~ N(0, 1/fan_in) as a trained model's activations expect; norms 1; biases small.
class RandomTensors {
 public:
  void add(const std::string& name, std::vector<std::size_t> shape, float scale, float offset = 0) {
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    std::vector<float> values(count);
    std::normal_distribution<float> normal(offset, scale);
    for (float& value : values) value = scale == 0 ? offset : normal(generator_);
    storage_.push_back(std::move(values));
    tensors_.push_back({name, std::move(shape), {}, "F32"});
  }
  void matrix(const std::string& name, std::size_t out, std::size_t in) {
    add(name, {out, in}, 1.0f / std::sqrt(static_cast<float>(in)));
  }
  void write(const fs::path& file) {
    for (std::size_t i = 0; i < tensors_.size(); ++i) tensors_[i].values = storage_[i];
    write_safetensors(file, tensors_);
  }

 private:
  std::mt19937 generator_{1234};
  std::vector<std::vector<float>> storage_;
  std::vector<TensorToWrite> tensors_;
};

void write_random_checkpoint(const fs::path& dir, const RandomShape& s) {
  std::ofstream(dir / "config.json") << random_config(s);
  RandomTensors tensors;
  tensors.add("model.embed_tokens.weight", {s.vocab, s.hidden}, 1.0f);
  tensors.add("model.norm.weight", {s.hidden}, 0, 1);
  const std::size_t q_width = s.heads * s.head_dim;
  const std::size_t kv_width = s.kv_heads * s.head_dim;
  for (std::size_t layer = 0; layer < s.layers; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    tensors.add(p + "input_layernorm.weight", {s.hidden}, 0, 1);
    tensors.add(p + "post_attention_layernorm.weight", {s.hidden}, 0, 1);
    tensors.matrix(p + "self_attn.q_proj.weight", q_width, s.hidden);
    tensors.matrix(p + "self_attn.k_proj.weight", kv_width, s.hidden);
    tensors.matrix(p + "self_attn.v_proj.weight", kv_width, s.hidden);
    tensors.matrix(p + "self_attn.o_proj.weight", s.hidden, q_width);
    tensors.add(p + "self_attn.q_proj.bias", {q_width}, 0.1f);
    tensors.add(p + "self_attn.k_proj.bias", {kv_width}, 0.1f);
    tensors.add(p + "self_attn.v_proj.bias", {kv_width}, 0.1f);
    tensors.matrix(p + "mlp.gate_proj.weight", s.intermediate, s.hidden);
    tensors.matrix(p + "mlp.up_proj.weight", s.intermediate, s.hidden);
    tensors.matrix(p + "mlp.down_proj.weight", s.hidden, s.intermediate);
  }
  tensors.write(dir / "model.safetensors");
}

const Model* random_model() {
  static const std::unique_ptr<Model> model = [] {
    const fs::path dir = fs::temp_directory_path() / ("rbench-bench-model-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    write_random_checkpoint(dir, RandomShape{});
    auto loaded = Model::load(dir);
    fs::remove_all(dir);
    return loaded;
  }();
  return model.get();
}

const Model* fixture_model() {
  static const std::unique_ptr<Model> model = []() -> std::unique_ptr<Model> {
    const fs::path dir = shared_dir() / "fixtures" / "models" / "qwen2";
    return fs::exists(dir / "config.json") ? Model::load(dir) : nullptr;
  }();
  return model.get();
}

const Model* model_for(benchmark::State& state, bool random) {
  const Model* model = random ? random_model() : fixture_model();
  if (model == nullptr) state.SkipWithError("the qwen2 fixture is absent; set RBENCH_SHARED");
  return model;
}

std::vector<TokenId> prompt_tokens(const Model& model, std::size_t count) {
  std::mt19937 generator(7);
  std::uniform_int_distribution<TokenId> token(0, static_cast<TokenId>(model.config().vocab_size - 1));
  std::vector<TokenId> tokens(count);
  for (TokenId& t : tokens) t = token(generator);
  return tokens;
}

void report_rates(benchmark::State& state, const Model& model, double tokens, double steps) {
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(steps * static_cast<double>(model.weight_bytes_per_token()) * 1e-9,
                                                     benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(cpu::worker_count());
}

// ---- benchmarks ----

// Arguments: random model (1) or fixture (0), prompt length.
void BM_Prefill(benchmark::State& state) {
  const Model* model = model_for(state, state.range(0) != 0);
  if (model == nullptr) return;
  const std::vector<TokenId> prompt = prompt_tokens(*model, static_cast<std::size_t>(state.range(1)));
  for (auto _ : state) {
    const auto cache = model->new_cache();
    const SequenceStep step{prompt, cache.get(), false};
    benchmark::DoNotOptimize(model->forward({&step, 1}));
  }
  report_rates(state, *model, static_cast<double>(state.iterations() * prompt.size()),
               static_cast<double>(state.iterations()));
}

// Arguments: random model (1) or fixture (0), batch size. Each sequence holds a 128-token context;
// every step decodes one token per sequence, then rewinds so the context length stays the same.
void BM_Decode(benchmark::State& state) {
  const Model* model = model_for(state, state.range(0) != 0);
  if (model == nullptr) return;
  const std::size_t batch_size = static_cast<std::size_t>(state.range(1));
  constexpr std::size_t context = 128;
  const std::vector<TokenId> prompt = prompt_tokens(*model, context);
  std::vector<std::unique_ptr<KvCache>> caches;
  for (std::size_t s = 0; s < batch_size; ++s) {
    caches.push_back(model->new_cache());
    const SequenceStep prefill{prompt, caches.back().get(), false};
    model->forward({&prefill, 1});
  }
  const std::vector<TokenId> next = {prompt.front()};
  std::vector<SequenceStep> steps;
  for (const auto& cache : caches) steps.push_back({next, cache.get(), false});
  for (auto _ : state) {
    benchmark::DoNotOptimize(model->forward(steps));
    for (const auto& cache : caches) cache->truncate(context);
  }
  report_rates(state, *model, static_cast<double>(state.iterations() * batch_size),
               static_cast<double>(state.iterations()));
}

// Reads a 512 MiB buffer with every pool thread: the bandwidth batch-1 decode can at best reach.
void BM_MemoryReadBandwidth(benchmark::State& state) {
  const std::vector<float> buffer(std::size_t{128} << 20, 1.0f);
  for (auto _ : state) {
    std::vector<float> partial(cpu::worker_count() * 16);
    std::atomic<std::size_t> slot{0};
    cpu::parallel_for(buffer.size(), 1 << 20, [&](std::size_t begin, std::size_t end) {
      partial[slot++ % partial.size()] += cpu::dot(buffer.data() + begin, buffer.data() + begin, end - begin);
    });
    benchmark::DoNotOptimize(partial);
  }
  state.counters["read_GB/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(buffer.size() * sizeof(float)) * 1e-9,
      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Prefill)
    ->ArgNames({"random100M", "prompt"})
    ->Args({0, 40})
    ->Args({1, 128})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)
    ->ArgNames({"random100M", "batch"})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({1, 4})
    ->Args({1, 16})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryReadBandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rbench::engine
