#pragma once
// Device helpers the kernel files share: conversions between the weight type and float, warp and
// block reductions, and the address of a cached row in the paged KV cache.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/ops.h"

namespace rbench::engine::cuda {

// ---- launching: programmatic dependent launch ----
//
// Every kernel is launched so that it may start while the kernel before it finishes (Hopper's
// programmatic dependent launch, kept in captured graphs): its blocks get resident early and wait
// in wait_for_inputs() until the previous kernel's writes are visible. That hides most of the gap
// between the hundreds of small kernels of a decode step. Every kernel calls wait_for_inputs()
// before it reads anything a previous kernel wrote.
__device__ __forceinline__ void wait_for_inputs() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

// Lets the next kernel launch now rather than when this one ends: its blocks take the room this
// one's leave and issue their weight loads (which need no wait) while this kernel finishes; its
// wait_for_inputs() still waits for all of this kernel. Only in steps of a few rows, where a step is
// hundreds of latency-bound kernels (+5% at batch 1 on the H200); in batch-64 steps it cost 7-17%.
__device__ __forceinline__ void let_next_kernel_start() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

// Whether the kernels of a step of `rows` token rows call let_next_kernel_start().
inline bool overlaps_next_kernel(int rows) { return rows <= 8; }

// Every kernel may start before the one before it ends (it waits with wait_for_inputs()); with
// cluster_blocks > 0 the grid's x dimension is cut into thread-block clusters of that many blocks.
template <class... Params, class... Args>
void launch_in_clusters(unsigned cluster_blocks, void (*kernel)(Params...), dim3 grid, dim3 block,
                        std::size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attributes[2]{};
  attributes[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attributes[0].val.programmaticStreamSerializationAllowed = 1;
  attributes[1].id = cudaLaunchAttributeClusterDimension;
  attributes[1].val.clusterDim = {cluster_blocks, 1, 1};
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = attributes;
  config.numAttrs = cluster_blocks > 0 ? 2 : 1;
  RBENCH_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  launch_in_clusters(0, kernel, grid, block, shared_bytes, stream, std::forward<Args>(args)...);
}

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ bf16 from_float<bf16>(float x) {
  return __float2bfloat16(x);
}

struct Add {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct Max {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
  __device__ __forceinline__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return max(a, b);
  }
};

// x combined over the warp by `op`, in every lane.
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T x, Op op) {
  for (int offset = 16; offset > 0; offset >>= 1) x = op(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

__device__ __forceinline__ float warp_sum(float x) { return warp_reduce(x, Add{}); }
__device__ __forceinline__ float warp_max(float x) { return warp_reduce(x, Max{}); }

// x combined over the block by `op` (blockDim.x a multiple of 32, at most 1024), in every thread;
// `identity` stands in for the warps the block lacks. `scratch` holds 32 values; the call ends with
// a barrier, so scratch may be reused after it.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T x, T identity, T* scratch, Op op) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  x = warp_reduce(x, op);
  __syncthreads();
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  x = warp_reduce(lane < static_cast<int>(blockDim.x / 32) ? scratch[lane] : identity, op);
  __syncthreads();
  return x;
}

__device__ __forceinline__ float block_sum(float x, float* scratch) { return block_reduce(x, 0.0f, scratch, Add{}); }
__device__ __forceinline__ float block_max(float x, float* scratch) {
  return block_reduce(x, -INFINITY, scratch, Max{});
}

// dst[i] = src[i] (+ add[i]) for i < n by the whole block, a pass's loads all in flight before its
// stores (a load followed by its use in the same loop iteration would wait out every round trip).
__device__ __forceinline__ void stage_row(float* dst, const float* __restrict__ src, const float* __restrict__ add,
                                          int n) {
  constexpr int U = 8;
  for (int base = 0; base < n; base += U * static_cast<int>(blockDim.x)) {
    float v[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int i = base + u * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      v[u] = i < n ? src[i] + (add != nullptr ? add[i] : 0.0f) : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int i = base + u * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      if (i < n) dst[i] = v[u];
    }
  }
}

// Whether this block is the last of `count` to get here (each block calls it once, every thread,
// after writing what the last one will read); the last one resets the counter to zero for the next
// launch and sees every other block's writes. The "last block finishes the job" pattern: a reduction
// across blocks without a second kernel.
__device__ __forceinline__ bool last_to_arrive(unsigned* counter, unsigned count) {
  __shared__ bool last;
  __threadfence();  // this block's results are visible before its arrival is counted
  __syncthreads();
  if (threadIdx.x == 0) {
    last = atomicAdd(counter, 1u) == count - 1;
    if (last) *counter = 0;
  }
  __syncthreads();
  if (last) __threadfence();
  return last;
}

// Where position p of a row's sequence is cached: the element offset of its row in a layer's pool.
__device__ __forceinline__ std::size_t cache_row(const StepRows& rows, int sequence, int position) {
  const int page = rows.pages[rows.page_offset[sequence] + position / rows.page_size];
  return static_cast<std::size_t>(page) * rows.page_size + position % rows.page_size;
}

// A well-mixed 64-bit hash (SplitMix64's finaliser): random numbers as a function of their indices.
__host__ __device__ __forceinline__ std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in (0, 1), never 0: from the top 24 bits of a hash.
__device__ __forceinline__ float uniform_open(std::uint64_t bits) {
  return (static_cast<float>(bits >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

// 16-byte loads of weights and activations: 8 bfloat16 or 4 floats at a time.
template <class W>
constexpr int vector_width() {
  return 16 / static_cast<int>(sizeof(W));
}

__device__ __forceinline__ void load_vector(const float* p, float (&out)[4]) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  out[0] = v.x;
  out[1] = v.y;
  out[2] = v.z;
  out[3] = v.w;
}

__device__ __forceinline__ void load_vector(const bf16* p, float (&out)[8]) {
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

// ---- weight streaming (few rows: decoding) ----
//
// A matrix-vector product for a few rows is bound by reading the weights, so every weight byte is
// read once, in 16-byte loads, with many loads in flight: a block of kStreamWarps warps, and `split`
// warps sharing one output column (its weight row), each taking every split-th 32-lane chunk of it.
constexpr int kStreamWarps = 8;

// Warps per column: enough warps in all to hide memory latency, no more than the row has chunks.
inline int stream_split(long long columns, int n, int vector_elements) {
  const int chunks = (n + 32 * vector_elements - 1) / (32 * vector_elements);
  int split = 1;
  while (split < kStreamWarps && 2 * split <= chunks && columns * split < 16384) split *= 2;
  return split;
}

// acc[r] += the part of w · x_r over chunks part, part + parts, ... of the n-long row (n a multiple of
// vector_width<W>(), rows 16-byte aligned), U chunks' weight loads in flight at a time. Lane sums
// only: the caller reduces across the warp.
template <class W, int R, int U = (R <= 2 ? 4 : 2)>
__device__ __forceinline__ void warp_dot_rows(const W* w, const W* const (&x)[R], int rows, int n, int part, int parts,
                                              float (&acc)[R]) {
  constexpr int V = vector_width<W>();
  const int lane = threadIdx.x % 32;
  const int chunks = (n + 32 * V - 1) / (32 * V);
  for (int c = part; c < chunks; c += U * parts) {
    int k[U];
    bool has[U];
    float weights[U][V];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      k[u] = ((c + u * parts) * 32 + lane) * V;
      has[u] = c + u * parts < chunks && k[u] < n;
      if (has[u]) load_vector(w + k[u], weights[u]);
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (r >= rows) continue;
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (!has[u]) continue;
        float v[V];
        load_vector(x[r] + k[u], v);
#pragma unroll
        for (int i = 0; i < V; ++i) acc[r] += weights[u][i] * v[i];
      }
    }
  }
}

// ---- one row (batch-1 decoding) ----
//
// With a single activation row there is nothing to share between weight rows, so each warp walks a
// grid-stride list of items (a weight row, or a gate/up pair) and keeps a whole segment of N
// 16-byte loads per lane in flight for each of them.
constexpr int kRowVectors = 8;

template <class W, int N = kRowVectors>
__host__ __device__ constexpr int row_segment() {
  return 32 * vector_width<W>() * N;
}

// The lane's N vectors of elements [k0, k0 + row_segment<W, N>()) of a row (zeros past n).
template <class W, int N>
__device__ __forceinline__ void load_segment(const W* row, int n, int k0, uint4 (&out)[N]) {
  constexpr int V = vector_width<W>();
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int v = 0; v < N; ++v) {
    const int k = k0 + (v * 32 + lane) * V;
    out[v] = k < n ? *reinterpret_cast<const uint4*>(row + k) : make_uint4(0, 0, 0, 0);
  }
}

__device__ __forceinline__ float dot_vector(const uint4& a, const uint4& b, float) {
  const float4 x = *reinterpret_cast<const float4*>(&a);
  const float4 y = *reinterpret_cast<const float4*>(&b);
  return x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
}

__device__ __forceinline__ float dot_vector(const uint4& a, const uint4& b, bf16) {
  const __nv_bfloat162* x = reinterpret_cast<const __nv_bfloat162*>(&a);
  const __nv_bfloat162* y = reinterpret_cast<const __nv_bfloat162*>(&b);
  float sum = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 p = __bfloat1622float2(x[i]);
    const float2 q = __bfloat1622float2(y[i]);
    sum += p.x * q.x + p.y * q.y;
  }
  return sum;
}

template <class W, int N>
__device__ __forceinline__ float dot_segment(const uint4 (&a)[N], const uint4 (&b)[N]) {
  float sum = 0;
#pragma unroll
  for (int v = 0; v < N; ++v) sum += dot_vector(a[v], b[v], W{});
  return sum;
}

// Blocks of 8 warps for the row kernels' grid-stride loops: one warp per item up to 8 blocks per
// multiprocessor of an H100/H200 (132 of them), enough to keep every memory pipe full.
inline unsigned row_grid(long long items) {
  return static_cast<unsigned>(std::max<long long>(1, std::min<long long>((items + 7) / 8, 132 * 8)));
}

// Warps of the whole grid, for grid-stride loops over items.
__device__ __forceinline__ int global_warp() { return (blockIdx.x * blockDim.x + threadIdx.x) / 32; }
__device__ __forceinline__ int grid_warps() { return gridDim.x * blockDim.x / 32; }

// The largest power of two up to 8 rows a streaming kernel instance must hold.
inline int stream_rows(int rows) { return rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : 8; }

// Calls launch(std::integral_constant<int, R>{}) with R = stream_rows(rows), so one call site picks the
// kernel instance compiled for that many rows: [&](auto r) { run(kernel<W, decltype(r)::value>); }.
template <class Launch>
void with_stream_rows(int rows, Launch&& launch) {
  switch (stream_rows(rows)) {
    case 1:
      return launch(std::integral_constant<int, 1>{});
    case 2:
      return launch(std::integral_constant<int, 2>{});
    case 4:
      return launch(std::integral_constant<int, 4>{});
    default:
      return launch(std::integral_constant<int, 8>{});
  }
}

// The block's column groups: each warp's lane sums reduced over the warp into partial[warp][r].
template <int R>
__device__ __forceinline__ void store_warp_sums(const float (&acc)[R], int rows, float (*partial)[R]) {
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (r >= rows) continue;
    const float total = warp_sum(acc[r]);
    if (threadIdx.x % 32 == 0) partial[warp][r] = total;
  }
}

inline unsigned blocks_for(std::size_t items, unsigned threads) {
  return static_cast<unsigned>((items + threads - 1) / threads);
}

}  // namespace rbench::engine::cuda
