// CPU-only build: no CUDA compiler was found at configure time.
#include "engine/device.h"

namespace rbench::engine {

bool built_with_cuda() { return false; }
std::vector<GpuInfo> list_gpus() { return {}; }
double measure_copy_bandwidth_gbs(int, std::size_t) { return 0.0; }

}  // namespace rbench::engine
