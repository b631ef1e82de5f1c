#include <cuda_runtime.h>

#include "engine/device.h"

namespace rbench::engine {

bool built_with_cuda() { return true; }

std::vector<GpuInfo> list_gpus() {
  int count = 0;
  // No driver or no device is not an error here: the caller sees an empty list.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return {};
  }
  std::vector<GpuInfo> gpus;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    gpus.push_back({i, prop.name, prop.major, prop.minor, static_cast<uint64_t>(prop.totalGlobalMem),
                    prop.multiProcessorCount});
  }
  return gpus;
}

}  // namespace rbench::engine
