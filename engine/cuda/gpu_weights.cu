#include <functional>
#include <type_traits>

#include "engine/cuda/gpu_weights.h"
#include "engine/cuda/ops.h"
#include "engine/model/safetensors.h"

namespace rbench::engine::cuda {

namespace {

template <class W>
std::vector<W> to_weight_type(std::span<const float> values) {
  if constexpr (std::is_same_v<W, float>) {
    return {values.begin(), values.end()};
  } else {
    std::vector<W> converted(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      __nv_bfloat16_raw raw;
      raw.x = f32_to_bf16(values[i]);
      converted[i] = raw;
    }
    return converted;
  }
}

template <class W>
class CheckpointWeights final : public GpuWeightSource<W> {
 public:
  using Init = WeightInit;
  explicit CheckpointWeights(const std::filesystem::path& dir) : loader_(dir) {}

  DeviceBuffer<W> matrix(const std::string& name, std::size_t rows, std::size_t cols) override {
    return upload(loader_.matrix(name, rows, cols).values());
  }
  DeviceBuffer<W> stacked(const std::vector<WeightLoader::Part>& parts, std::size_t cols) override {
    return upload(loader_.stacked(parts, cols).values());
  }
  DeviceBuffer<float> float_matrix(const std::string& name, std::size_t rows, std::size_t cols) override {
    const cpu::Matrix values = loader_.matrix(name, rows, cols);
    return DeviceBuffer<float>::from(values.values());
  }
  DeviceBuffer<float> vector(const std::string& name, std::size_t size, Init) override {
    const std::vector<float> values = loader_.vector(name, size);
    return DeviceBuffer<float>::from(values);
  }
  DeviceBuffer<float> concatenated(const std::vector<WeightLoader::Part>& parts, Init) override {
    std::vector<float> joined;
    for (const auto& part : parts) {
      const std::vector<float> piece = loader_.vector(part.name, part.rows);
      joined.insert(joined.end(), piece.begin(), piece.end());
    }
    return DeviceBuffer<float>::from(joined);
  }

 private:
  static DeviceBuffer<W> upload(std::span<const float> values) {
    const std::vector<W> converted = to_weight_type<W>(values);
    return DeviceBuffer<W>::from(converted);
  }

  WeightLoader loader_;
};

// Uniform ±0.03 for matrices (std 0.017, like a trained model's), norms 1 ± 0.1, biases ±0.05:
// the activations stay in a realistic range, and a random router spreads tokens over the experts.
template <class W>
class RandomWeights final : public GpuWeightSource<W> {
 public:
  using Init = WeightInit;
  explicit RandomWeights(std::uint64_t seed) : seed_(seed) {}

  DeviceBuffer<W> matrix(const std::string& name, std::size_t rows, std::size_t cols) override {
    return filled<W>(name, rows * cols, 0.03f, 0.0f);
  }
  DeviceBuffer<W> stacked(const std::vector<WeightLoader::Part>& parts, std::size_t cols) override {
    std::size_t rows = 0;
    for (const auto& part : parts) rows += part.rows;
    return filled<W>(parts.front().name, rows * cols, 0.03f, 0.0f);
  }
  DeviceBuffer<float> float_matrix(const std::string& name, std::size_t rows, std::size_t cols) override {
    return filled<float>(name, rows * cols, 0.03f, 0.0f);
  }
  DeviceBuffer<float> vector(const std::string& name, std::size_t size, Init init) override {
    return init == Init::norm ? filled<float>(name, size, 0.1f, 1.0f)
                              : filled<float>(name, size, init == Init::bias ? 0.05f : 0.03f, 0.0f);
  }
  DeviceBuffer<float> concatenated(const std::vector<WeightLoader::Part>& parts, Init init) override {
    std::size_t size = 0;
    for (const auto& part : parts) size += part.rows;
    return vector(parts.front().name, size, init);
  }

 private:
  template <class T>
  DeviceBuffer<T> filled(const std::string& name, std::size_t count, float scale, float offset) {
    DeviceBuffer<T> buffer(count);
    fill_uniform<T>(buffer.data(), count, seed_ ^ std::hash<std::string>{}(name), scale, offset, nullptr);
    RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    return buffer;
  }

  std::uint64_t seed_;
};

}  // namespace

template <class W>
std::unique_ptr<GpuWeightSource<W>> checkpoint_weights(const std::filesystem::path& dir) {
  return std::make_unique<CheckpointWeights<W>>(dir);
}

template <class W>
std::unique_ptr<GpuWeightSource<W>> random_weights(std::uint64_t seed) {
  return std::make_unique<RandomWeights<W>>(seed);
}

template std::unique_ptr<GpuWeightSource<float>> checkpoint_weights<float>(const std::filesystem::path&);
template std::unique_ptr<GpuWeightSource<bf16>> checkpoint_weights<bf16>(const std::filesystem::path&);
template std::unique_ptr<GpuWeightSource<float>> random_weights<float>(std::uint64_t);
template std::unique_ptr<GpuWeightSource<bf16>> random_weights<bf16>(std::uint64_t);

}  // namespace rbench::engine::cuda
