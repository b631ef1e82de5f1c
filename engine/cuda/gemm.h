#pragma once
// Matrix products of activations [rows, in] with weights [out, in] (row-major, as checkpoints store
// them): cuBLAS with float32 accumulation for prefill-sized batches, and a weight-streaming kernel
// for a few rows (decoding), where one pass over the weights at full memory bandwidth is the goal.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>

#include "engine/cuda/device_buffer.h"
#include "engine/cuda/ops.h"

namespace rbench::engine::cuda {

// Most rows the weight-streaming kernel takes; more go to cuBLAS.
constexpr int small_linear_max_rows = 8;

// A cuBLAS handle bound to one stream, with a workspace of its own so that its calls can be
// captured in a CUDA graph.
class Blas {
 public:
  explicit Blas(cudaStream_t stream);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // y[rows, out] (row stride ldy) = x[rows, in] (row stride ldx) · w[out, in]ᵀ + beta · y.
  // x and w are of type W; y is float or W.
  template <class W, class Y>
  void linear(const W* x, int ldx, const W* w, int out, int in, int rows, Y* y, int ldy, float beta);

  // For each of `batch` matrices b (strides between them in elements): y_b[rows, out] = x_b[rows, in]
  // · op(w_b) + beta · y_b, where op(w_b) = w_bᵀ for w_b [out, in] (transposed_weights) or w_b itself
  // for w_b [in, out]. MLA's per-head absorbed products.
  template <class W, class Y>
  void batched_linear(const W* x, int ldx, std::size_t x_stride, const W* w, bool transposed_weights, int ldw,
                      std::size_t w_stride, int out, int in, int rows, Y* y, int ldy, std::size_t y_stride, int batch,
                      float beta);

  cublasHandle_t handle() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
  DeviceBuffer<char> workspace_;
};

// y[rows, out] = x · wᵀ (+ y when accumulate) for rows ≤ small_linear_max_rows, float32 output.
template <class W>
void small_linear(const W* x, int ldx, const W* w, int out, int in, int rows, float* y, int ldy, bool accumulate,
                  cudaStream_t stream);

}  // namespace rbench::engine::cuda
