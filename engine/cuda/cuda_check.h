#pragma once
// Every CUDA and cuBLAS call is checked: a failure throws, naming the call, the file and the line.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace rbench::engine::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_cuda_error(const char* call, const char* what, const char* file, int line) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + what);
}

}  // namespace rbench::engine::cuda

#define RBENCH_CUDA_CHECK(call)                                                                                \
  do {                                                                                                         \
    const cudaError_t rbench_status_ = (call);                                                                 \
    if (rbench_status_ != cudaSuccess) {                                                                       \
      ::rbench::engine::cuda::throw_cuda_error(#call, cudaGetErrorString(rbench_status_), __FILE__, __LINE__); \
    }                                                                                                          \
  } while (0)

#define RBENCH_CUBLAS_CHECK(call)                                                                                 \
  do {                                                                                                            \
    const cublasStatus_t rbench_status_ = (call);                                                                 \
    if (rbench_status_ != CUBLAS_STATUS_SUCCESS) {                                                                \
      ::rbench::engine::cuda::throw_cuda_error(#call, cublasGetStatusString(rbench_status_), __FILE__, __LINE__); \
    }                                                                                                             \
  } while (0)

// After a kernel launch: a bad configuration shows up here, not at some later call.
#define RBENCH_CUDA_CHECK_LAUNCH() RBENCH_CUDA_CHECK(cudaGetLastError())
