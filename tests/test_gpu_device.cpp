// Runs on the GPU machine; elsewhere it reports SKIPPED.
#include <gtest/gtest.h>

#include <string>

#include "engine/device.h"

namespace rbench::engine {
namespace {

TEST(GpuDevice, ReportsEveryVisibleGpu) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  const auto gpus = list_gpus();
  for (const auto& gpu : gpus) {
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_GE(gpu.compute_major, 7) << gpu.name;
    EXPECT_GT(gpu.memory_bytes, 1ULL << 30) << gpu.name;
    EXPECT_GT(gpu.multiprocessors, 0) << gpu.name;
  }
}

}  // namespace
}  // namespace rbench::engine
