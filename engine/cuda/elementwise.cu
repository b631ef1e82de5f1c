// Embedding lookup, bias, SwiGLU and random fill: one thread per element.
#include <algorithm>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr unsigned kThreads = 256;

template <class W>
__global__ void embed_rows_kernel(const W* table, int hidden, StepRows rows, float* out) {
  wait_for_inputs();
  const int row = blockIdx.x;
  const W* __restrict__ source = table + static_cast<std::size_t>(rows.token[row]) * hidden;
#pragma unroll 8
  for (int c = threadIdx.x; c < hidden; c += blockDim.x)
    out[static_cast<std::size_t>(row) * hidden + c] = to_float(source[c]);
}

__global__ void add_bias_kernel(float* y, int ld, const float* bias, int rows, int cols) {
  wait_for_inputs();
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<std::size_t>(rows) * cols) return;
  const int r = static_cast<int>(i / cols);
  const int c = static_cast<int>(i % cols);
  y[static_cast<std::size_t>(r) * ld + c] += bias[c];
}

template <class W>
__global__ void swiglu_kernel(const float* gate_up, int rows, int half, W* out) {
  wait_for_inputs();
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<std::size_t>(rows) * half) return;
  const std::size_t r = i / half;
  const std::size_t c = i % half;
  const float gate = gate_up[r * 2 * half + c];
  const float up = gate_up[r * 2 * half + half + c];
  out[i] = from_float<W>(gate / (1.0f + __expf(-gate)) * up);
}

template <class W>
__global__ void fill_uniform_kernel(W* out, std::size_t count, std::uint64_t seed, float scale, float offset) {
  wait_for_inputs();
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    const float u = uniform_open(mix64(seed ^ mix64(i + 0x9e3779b97f4a7c15ULL)));
    out[i] = from_float<W>(offset + scale * (2.0f * u - 1.0f));
  }
}

}  // namespace

template <class W>
void embed_rows(const W* table, int hidden, const StepRows& rows, float* out, cudaStream_t stream) {
  if (rows.rows == 0) return;
  launch(embed_rows_kernel<W>, rows.rows, kThreads, 0, stream, table, hidden, rows, out);
  RBENCH_CUDA_CHECK_LAUNCH();
}

void add_bias(float* y, int ld, const float* bias, int rows, int cols, cudaStream_t stream) {
  const std::size_t count = static_cast<std::size_t>(rows) * cols;
  if (count == 0) return;
  launch(add_bias_kernel, blocks_for(count, kThreads), kThreads, 0, stream, y, ld, bias, rows, cols);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void swiglu(const float* gate_up, int rows, int half, W* out, cudaStream_t stream) {
  const std::size_t count = static_cast<std::size_t>(rows) * half;
  if (count == 0) return;
  launch(swiglu_kernel<W>, blocks_for(count, kThreads), kThreads, 0, stream, gate_up, rows, half, out);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void fill_uniform(W* out, std::size_t count, std::uint64_t seed, float scale, float offset, cudaStream_t stream) {
  if (count == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<std::size_t>(blocks_for(count, kThreads), 65536));
  launch(fill_uniform_kernel<W>, blocks, kThreads, 0, stream, out, count, seed, scale, offset);
  RBENCH_CUDA_CHECK_LAUNCH();
}

#define RBENCH_INSTANTIATE(W)                                                        \
  template void embed_rows<W>(const W*, int, const StepRows&, float*, cudaStream_t); \
  template void swiglu<W>(const float*, int, int, W*, cudaStream_t);                 \
  template void fill_uniform<W>(W*, std::size_t, std::uint64_t, float, float, cudaStream_t);
RBENCH_INSTANTIATE(float)
RBENCH_INSTANTIATE(bf16)
#undef RBENCH_INSTANTIATE

}  // namespace rbench::engine::cuda
