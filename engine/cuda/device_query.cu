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
    gpus.push_back(
        {i, prop.name, prop.major, prop.minor, static_cast<uint64_t>(prop.totalGlobalMem), prop.multiProcessorCount});
  }
  return gpus;
}

double measure_copy_bandwidth_gbs(int device, std::size_t bytes) {
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;
  }
  void* from = nullptr;
  void* to = nullptr;
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  double best_ms = 0;
  if (cudaMalloc(&from, bytes) == cudaSuccess && cudaMalloc(&to, bytes) == cudaSuccess &&
      cudaEventCreate(&start) == cudaSuccess && cudaEventCreate(&stop) == cudaSuccess) {
    cudaMemset(from, 1, bytes);
    for (int i = 0; i < 6; ++i) {  // the first copy warms up
      cudaEventRecord(start);
      cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToDevice);
      cudaEventRecord(stop);
      cudaEventSynchronize(stop);
      float ms = 0;
      cudaEventElapsedTime(&ms, start, stop);
      if (i > 0 && (best_ms == 0 || ms < best_ms)) best_ms = ms;
    }
  }
  cudaGetLastError();
  if (start != nullptr) cudaEventDestroy(start);
  if (stop != nullptr) cudaEventDestroy(stop);
  cudaFree(from);
  cudaFree(to);
  return best_ms > 0 ? 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3) / 1e9 : 0.0;
}

}  // namespace rbench::engine
