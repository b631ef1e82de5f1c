// Runs on the GPU machine; elsewhere it reports SKIPPED.
#include <gtest/gtest.h>

#include "engine/device.h"

namespace rbench::engine {
namespace {

TEST(GpuDevice, ReportsEveryVisibleGpu) {
  if (!built_with_cuda()) GTEST_SKIP() << "CPU-only build (no nvcc at configure time)";
  const auto gpus = list_gpus();
  if (gpus.empty()) GTEST_SKIP() << "no GPU on this machine";
  for (const auto& gpu : gpus) {
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_GE(gpu.compute_major, 7) << gpu.name;
    EXPECT_GT(gpu.memory_bytes, 1ULL << 30) << gpu.name;
    EXPECT_GT(gpu.multiprocessors, 0) << gpu.name;
  }
}

}  // namespace
}  // namespace rbench::engine
