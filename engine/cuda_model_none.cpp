// CPU-only build: no CUDA compiler was found at configure time, so there is no GPU model.
#include "common/error.h"
#include "engine/cuda/cuda_model.h"

namespace rbench::engine::cuda {

namespace {

[[noreturn]] void no_cuda() {
  throw UserError(
      "--device cuda: this rbench was built without CUDA (no nvcc at configure time, or -DRBENCH_CUDA=OFF); "
      "rebuild with the CUDA toolkit to run the engine on a GPU");
}

}  // namespace

std::unique_ptr<CudaModel> load_cuda_model(const std::filesystem::path&, const CudaModelOptions&) { no_cuda(); }

std::unique_ptr<CudaModel> random_cuda_model(const ModelConfig&, const CudaModelOptions&, std::uint64_t) { no_cuda(); }

}  // namespace rbench::engine::cuda
