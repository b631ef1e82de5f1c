// RMSNorm of rows or of each head of a row: one block per (row, piece).
#include <algorithm>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

// Each thread keeps its (at most kPerThread) values in registers: one round trip to memory for the
// loads, all issued before the first use.
constexpr int kPerThread = 8;

template <class W>
__global__ void rms_norm_kernel(const float* __restrict__ x, int ld, int width, const float* __restrict__ weight,
                                int piece, float eps, const int* row_index, float* out_f32, W* out_w,
                                bool overlap_next) {
  wait_for_inputs();
  if (overlap_next) let_next_kernel_start();
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const int first = blockIdx.y * piece;
  const int source_row = row_index != nullptr ? row_index[row] : row;
  const float* in = x + static_cast<std::size_t>(source_row) * ld + first;
  float values[kPerThread];
  float scales[kPerThread];
  float sum = 0;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    values[j] = i < piece ? in[i] : 0.0f;
    scales[j] = i < piece ? weight[i] : 0.0f;
  }
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) sum += values[j] * values[j];
  const float inverse_rms = rsqrtf(block_sum(sum, scratch) / static_cast<float>(piece) + eps);
  const std::size_t out_offset = static_cast<std::size_t>(row) * width + first;
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= piece) continue;
    const float value = values[j] * inverse_rms * scales[j];
    if (out_f32 != nullptr) out_f32[out_offset + i] = value;
    if (out_w != nullptr) out_w[out_offset + i] = from_float<W>(value);
  }
}

}  // namespace

template <class W>
void rms_norm(const float* x, int ld, int rows, int width, const float* weight, int piece, float eps,
              const int* row_index, float* out_f32, W* out_w, cudaStream_t stream) {
  if (rows == 0) return;
  if (piece <= 0 || width % piece != 0) throw std::logic_error("rms_norm: width is not a multiple of the piece");
  // Enough threads for kPerThread values each (pieces up to 8192 wide), in whole warps.
  const int per_thread_threads = (piece + kPerThread - 1) / kPerThread;
  if (per_thread_threads > 1024) throw std::invalid_argument("rms_norm: pieces wider than 8192 are not supported");
  const unsigned threads = static_cast<unsigned>(std::max(32, (per_thread_threads + 31) / 32 * 32));
  launch(rms_norm_kernel<W>, dim3(rows, width / piece), threads, 0, stream, x, ld, width, weight, piece, eps, row_index,
         out_f32, out_w, overlaps_next_kernel(rows));
  RBENCH_CUDA_CHECK_LAUNCH();
}

template void rms_norm<float>(const float*, int, int, int, const float*, int, float, const int*, float*, float*,
                              cudaStream_t);
template void rms_norm<bf16>(const float*, int, int, int, const float*, int, float, const int*, float*, bf16*,
                             cudaStream_t);

}  // namespace rbench::engine::cuda
