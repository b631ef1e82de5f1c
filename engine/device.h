#pragma once
// The accelerators this process can use. Empty in a CPU-only build or on a machine without a GPU.
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

}  // namespace rbench::engine
