#pragma once
// Where the CUDA model's weights come from: a checkpoint (the CPU path's WeightLoader, so the same
// names, shapes and errors), or random numbers made on the GPU for benchmarks. Matrices arrive as
// type W on the device; norms, biases and routers stay float32 (they are small, and routing
// decisions should not flip on bf16 rounding).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/device_buffer.h"
#include "engine/model/weights.h"

namespace rbench::engine::cuda {

// How random weights are drawn; a checkpoint ignores it.
enum class WeightInit { weight, norm, bias };

template <class W>
class GpuWeightSource {
 public:
  using Init = WeightInit;
  virtual ~GpuWeightSource() = default;

  virtual DeviceBuffer<W> matrix(const std::string& name, std::size_t rows, std::size_t cols) = 0;
  // Tensors of `cols` columns stacked along their rows (fused gate/up, per-expert stacks).
  virtual DeviceBuffer<W> stacked(const std::vector<WeightLoader::Part>& parts, std::size_t cols) = 0;
  virtual DeviceBuffer<float> float_matrix(const std::string& name, std::size_t rows, std::size_t cols) = 0;
  virtual DeviceBuffer<float> vector(const std::string& name, std::size_t size, Init init) = 0;
  // Several vectors end to end (q, k and v biases into one).
  virtual DeviceBuffer<float> concatenated(const std::vector<WeightLoader::Part>& parts, Init init) = 0;
};

template <class W>
std::unique_ptr<GpuWeightSource<W>> checkpoint_weights(const std::filesystem::path& dir);
template <class W>
std::unique_ptr<GpuWeightSource<W>> random_weights(std::uint64_t seed);

}  // namespace rbench::engine::cuda
