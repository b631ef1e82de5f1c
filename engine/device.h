#pragma once
// The accelerators this process can use. Empty in a CPU-only build or on a machine without a GPU.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rbench::engine {

struct GpuInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  uint64_t memory_bytes = 0;
  int multiprocessors = 0;
};

bool built_with_cuda();
std::vector<GpuInfo> list_gpus();

// Why GPU code cannot run in this process, or "" when it can: what GPU tests and benchmarks report
// when they skip.
inline std::string gpu_unavailable_reason() {
  if (!built_with_cuda()) return "CPU-only build (no nvcc at configure time)";
  if (list_gpus().empty()) return "no GPU on this machine";
  return "";
}

// Device-to-device copy bandwidth of a GPU in GB/s, bytes read plus bytes written, the best of a few
// copies of `bytes`: the memory ceiling a roofline divides by. 0 without CUDA or a GPU.
double measure_copy_bandwidth_gbs(int device, std::size_t bytes = std::size_t{2} << 30);

}  // namespace rbench::engine
