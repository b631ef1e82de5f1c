#include <algorithm>
#include <type_traits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/gemm.h"

namespace rbench::engine::cuda {

namespace {

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;
}

constexpr std::size_t kWorkspaceBytes = 32u << 20;
// Block of kStreamWarps warps; `split` warps per output column.
template <class W, int R>
__global__ void __launch_bounds__(kStreamWarps * 32)
    small_linear_kernel(const W* x, int ldx, const W* w, int out, int in, int rows, float* y, int ldy, bool accumulate,
                        int split) {
  wait_for_inputs();
  let_next_kernel_start();
  __shared__ float partial[kStreamWarps][R];
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int column = blockIdx.x * (kStreamWarps / split) + warp / split;
  const int part = warp % split;
  float sums[R] = {};
  if (column < out) {
    const W* inputs[R];
#pragma unroll
    for (int r = 0; r < R; ++r) inputs[r] = x + static_cast<std::size_t>(min(r, rows - 1)) * ldx;
    warp_dot_rows<W, R>(w + static_cast<std::size_t>(column) * in, inputs, rows, in, part, split, sums);
  }
  store_warp_sums<R>(sums, rows, partial);
  __syncthreads();
  if (column >= out || part != 0 || lane >= rows) return;
  float total = 0;
  for (int p = 0; p < split; ++p) total += partial[warp + p][lane];
  float& target = y[static_cast<std::size_t>(lane) * ldy + column];
  target = accumulate ? target + total : total;
}

// Segment k0 of weight rows c and c + 1 (if there is one).
template <class W, int N>
__device__ __forceinline__ void load_row_pair(const W* w, int out, int in, int c, int k0, uint4 (&w0)[N],
                                              uint4 (&w1)[N]) {
  load_segment(w + static_cast<std::size_t>(c) * in, in, k0, w0);
  if (c + 1 < out) load_segment(w + static_cast<std::size_t>(c + 1) * in, in, k0, w1);
}

// One activation row: each warp takes two output columns at a time, both rows' loads in flight.
// Weights are never written during a step, so a warp's first segment is requested before it waits
// for the previous kernel: with let_next_kernel_start() there, those loads overlap its tail.
template <class W, int N>
__global__ void __launch_bounds__(256)
    row_linear_kernel(const W* x, const W* w, int out, int in, float* y, bool accumulate) {
  const int lane = threadIdx.x % 32;
  const int first = 2 * global_warp();
  uint4 w0[N], w1[N];
  if (first < out) load_row_pair(w, out, in, first, 0, w0, w1);
  wait_for_inputs();
  let_next_kernel_start();
  for (int c = first; c < out; c += 2 * grid_warps()) {
    const bool second = c + 1 < out;
    float sum0 = 0;
    float sum1 = 0;
    for (int k0 = 0; k0 < in; k0 += row_segment<W, N>()) {
      if (c != first || k0 != 0) load_row_pair(w, out, in, c, k0, w0, w1);
      uint4 xs[N];
      load_segment(x, in, k0, xs);
      sum0 += dot_segment<W>(w0, xs);
      if (second) sum1 += dot_segment<W>(w1, xs);
    }
    sum0 = warp_sum(sum0);
    sum1 = warp_sum(sum1);
    if (lane == 0) {
      y[c] = accumulate ? y[c] + sum0 : sum0;
      if (second) y[c + 1] = accumulate ? y[c + 1] + sum1 : sum1;
    }
  }
}

}  // namespace

Blas::Blas(cudaStream_t stream) : workspace_(kWorkspaceBytes) {
  RBENCH_CUBLAS_CHECK(cublasCreate(&handle_));
  RBENCH_CUBLAS_CHECK(cublasSetStream(handle_, stream));
  RBENCH_CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_.data(), workspace_.bytes()));
  RBENCH_CUBLAS_CHECK(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_HOST));
}

Blas::~Blas() { cublasDestroy(handle_); }

// Row-major y = x · wᵀ is column-major yᵀ = w · xᵀ: w's row-major [out, in] is column-major
// [in, out], so it enters transposed, and x's row-major [rows, in] is column-major [in, rows].
template <class W, class Y>
void Blas::linear(const W* x, int ldx, const W* w, int out, int in, int rows, Y* y, int ldy, float beta) {
  if (rows == 0) return;
  const float alpha = 1.0f;
  RBENCH_CUBLAS_CHECK(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &alpha, w, data_type<W>(), in, x,
                                   data_type<W>(), ldx, &beta, y, data_type<Y>(), ldy, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
}

template <class W, class Y>
void Blas::batched_linear(const W* x, int ldx, std::size_t x_stride, const W* w, bool transposed_weights, int ldw,
                          std::size_t w_stride, int out, int in, int rows, Y* y, int ldy, std::size_t y_stride,
                          int batch, float beta) {
  if (rows == 0) return;
  const float alpha = 1.0f;
  RBENCH_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle_, transposed_weights ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, out, rows, in, &alpha, w, data_type<W>(),
      ldw, static_cast<long long>(w_stride), x, data_type<W>(), ldx, static_cast<long long>(x_stride), &beta, y,
      data_type<Y>(), ldy, static_cast<long long>(y_stride), batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

template <class W>
void small_linear(const W* x, int ldx, const W* w, int out, int in, int rows, float* y, int ldy, bool accumulate,
                  cudaStream_t stream) {
  if (rows == 0) return;
  if (rows == 1 && in % vector_width<W>() == 0) {
    // Vectors per lane and segment: the fewest rounds of loads that up to 16 allow, in the fewest
    // vectors that keep that number (the 1.5B shape's down: 3 rounds of 12, not 5 of 8; Qwen3's o
    // product: 1 of 16). Measured +1.7 % at batch 1 for Qwen3-30B-A3B, +0.5 % for the 1.5B shape.
    const auto rounds = [&](int segment) { return (in + segment - 1) / segment; };
    const auto run = [&](auto kernel) {
      launch(kernel, row_grid((out + 1) / 2), 256, 0, stream, x, w, out, in, y, accumulate);
    };
    const int fewest = rounds(row_segment<W, 16>());
    if (rounds(row_segment<W>()) == fewest) {
      run(row_linear_kernel<W, kRowVectors>);
    } else if (rounds(row_segment<W, 12>()) == fewest) {
      run(row_linear_kernel<W, 12>);
    } else {
      run(row_linear_kernel<W, 16>);
    }
    RBENCH_CUDA_CHECK_LAUNCH();
    return;
  }
  if (rows > small_linear_max_rows) throw std::invalid_argument("small_linear: too many rows");
  if (in % vector_width<W>() != 0 || ldx % vector_width<W>() != 0) {
    throw std::invalid_argument("small_linear: rows are not whole 16-byte vectors");
  }
  const int split = stream_split(out, in, vector_width<W>());
  const unsigned blocks = blocks_for(out, kStreamWarps / split);
  const auto run = [&](auto kernel) {
    launch(kernel, blocks, kStreamWarps * 32, 0, stream, x, ldx, w, out, in, rows, y, ldy, accumulate, split);
  };
  with_stream_rows(rows, [&](auto r) { run(small_linear_kernel<W, decltype(r)::value>); });
  RBENCH_CUDA_CHECK_LAUNCH();
}

#define RBENCH_INSTANTIATE(W, Y)                                                                                   \
  template void Blas::linear<W, Y>(const W*, int, const W*, int, int, int, Y*, int, float);                        \
  template void Blas::batched_linear<W, Y>(const W*, int, std::size_t, const W*, bool, int, std::size_t, int, int, \
                                           int, Y*, int, std::size_t, int, float);
RBENCH_INSTANTIATE(float, float)
RBENCH_INSTANTIATE(bf16, float)
RBENCH_INSTANTIATE(bf16, bf16)
#undef RBENCH_INSTANTIATE
template void small_linear<float>(const float*, int, const float*, int, int, int, float*, int, bool, cudaStream_t);
template void small_linear<bf16>(const bf16*, int, const bf16*, int, int, int, float*, int, bool, cudaStream_t);

}  // namespace rbench::engine::cuda
