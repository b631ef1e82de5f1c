#pragma once
// The engine's model on an NVIDIA GPU: the same families and layer specs as the CPU reference
// (engine/model/families.h), with bf16 weights and float32 accumulation (or float32 weights, the
// exact reference mode the tests compare against the CPU with), a paged KV cache, sampling on the
// GPU and CUDA graphs for decode steps. Plain C++: callers need no CUDA headers, and in a build
// without CUDA the factories throw a UserError saying so.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "engine/model/config.h"
#include "engine/model/model.h"
#include "engine/runtime/batch_model.h"

namespace rbench::engine::cuda {

enum class WeightType { bf16, f32 };

struct CudaModelOptions {
  int device = 0;
  WeightType weights = WeightType::bf16;
  std::size_t max_step_tokens = 8192;  // tokens one forward pass holds (prompts longer go in pieces)
  int max_sequences = 256;             // sequences one step holds
  std::size_t kv_cache_bytes = 0;      // 0: kv_cache_fraction of what is free once weights are loaded
  double kv_cache_fraction = 0.9;
  int page_size = 16;               // positions per KV-cache page
  bool cuda_graphs = true;          // replay decode steps from captured graphs
  bool small_batch_kernels = true;  // steps of few rows stream weights through rbench's own kernels, not cuBLAS
};

// What the model was loaded into, for reports and benchmarks.
struct CudaModelInfo {
  std::string gpu;
  std::size_t weight_bytes = 0;  // on the device
  std::size_t kv_cache_positions = 0;
  std::size_t kv_cache_bytes = 0;
};

class CudaModel : public BatchModel {
 public:
  // Receives named intermediates of every forward pass (synchronising after each: for debugging
  // and tests), under the CPU model's names where the two compute the same tensor.
  virtual void set_dump_hook(DumpHook hook) = 0;
  virtual CudaModelInfo info() const = 0;
  // Decode steps replayed from a captured CUDA graph so far.
  virtual std::size_t graph_replays() const = 0;
  // While on, every step records GPU milliseconds per op family (with graphs off), summed in
  // profile() until profiling is switched on again.
  virtual void set_profiling(bool on) = 0;
  virtual std::map<std::string, double> profile() const = 0;
  // Decode steps replay with the kernels of these op families (profile()'s names) switched off in
  // their graphs: the tokens are garbage, the rest of the step's work is unchanged, and the time a
  // family saves is what it costs inside the graph.
  virtual void set_disabled_ops(const std::set<std::string>& families) = 0;
  // The op families of the decode graphs captured so far.
  virtual std::set<std::string> decode_op_families() const = 0;
};

// Reads dir/config.json and the safetensors weights; errors are rbench::UserError.
std::unique_ptr<CudaModel> load_cuda_model(const std::filesystem::path& dir, const CudaModelOptions& options = {});

// A model of the config's shape whose weights are random numbers made on the GPU (benchmarks: no
// files, nothing to download). Same seed, same weights.
std::unique_ptr<CudaModel> random_cuda_model(const ModelConfig& config, const CudaModelOptions& options = {},
                                             std::uint64_t seed = 0);

}  // namespace rbench::engine::cuda
