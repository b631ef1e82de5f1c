// Weights brought into L2 ahead of the product that reads them. A batch-1 step is a chain of kernels
// of which only the products stream from memory; the norms, the attention and the router between
// them leave HBM idle. A prefetch launched before them could let memory work through those gaps, so
// that the product finds part of its weights in L2. Measured so far (docs/engine_cuda.md, fourteenth
// session): as a kernel of the chain, each prefetch cost about its own transfer time; on a branch of
// the step (CudaModelOptions::l2_prefetch), not yet measured.
#include <algorithm>
#include <stdexcept>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr unsigned kPrefetchThreads = 32;
constexpr std::size_t kPrefetchChunk = 16u << 10;    // bytes per bulk prefetch request
constexpr std::size_t kBytesPerBlock = 256u << 10;  // at least, before the grid grows

struct L2Spans {
  L2Span span[l2_prefetch_max_spans];
  int count = 0;
};

// This block's share of [data, data + bytes): a contiguous 16-byte aligned piece, requested in
// chunks by the block's threads through the TMA unit, which needs no registers or waits.
__device__ __forceinline__ void prefetch_block_share(const char* data, std::size_t bytes) {
  const std::size_t share = ((bytes + gridDim.x - 1) / gridDim.x + 15) / 16 * 16;
  const std::size_t begin = blockIdx.x * share;
  const std::size_t end = std::min(bytes, begin + share);
  for (std::size_t at = begin + threadIdx.x * kPrefetchChunk; at < end; at += blockDim.x * kPrefetchChunk) {
    const std::size_t left = end - at;
    const unsigned size = static_cast<unsigned>(left < kPrefetchChunk ? left : kPrefetchChunk);
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(data + at), "r"(size) : "memory");
  }
}

__global__ void __launch_bounds__(kPrefetchThreads) prefetch_l2_kernel(L2Spans spans) {
  for (int s = 0; s < spans.count; ++s)
    prefetch_block_share(static_cast<const char*>(spans.span[s].data), spans.span[s].bytes);
}

__global__ void __launch_bounds__(kPrefetchThreads)
    prefetch_experts_l2_kernel(const char* base, std::size_t stride, std::size_t bytes, const int* expert_ids,
                               int count) {
  for (int e = 0; e < count; ++e) prefetch_block_share(base + static_cast<std::size_t>(expert_ids[e]) * stride, bytes);
}

unsigned prefetch_grid(std::size_t bytes) {
  return static_cast<unsigned>(std::clamp<std::size_t>((bytes + kBytesPerBlock - 1) / kBytesPerBlock, 1, 132));
}

void require_aligned(const void* data, std::size_t bytes) {
  if (reinterpret_cast<std::uintptr_t>(data) % 16 != 0 || bytes % 16 != 0) {
    throw std::invalid_argument("prefetch_l2: spans must be 16-byte aligned whole 16-byte vectors");
  }
}

}  // namespace

void prefetch_l2(std::span<const L2Span> spans, cudaStream_t stream) {
  if (spans.size() > static_cast<std::size_t>(l2_prefetch_max_spans)) {
    throw std::invalid_argument("prefetch_l2: too many spans");
  }
  L2Spans all;
  std::size_t total = 0;
  for (const L2Span& span : spans) {
    if (span.bytes == 0) continue;
    require_aligned(span.data, span.bytes);
    all.span[all.count++] = span;
    total += span.bytes;
  }
  if (total == 0) return;
  prefetch_l2_kernel<<<prefetch_grid(total), kPrefetchThreads, 0, stream>>>(all);
  RBENCH_CUDA_CHECK_LAUNCH();
}

void prefetch_experts_l2(const void* base, std::size_t expert_stride, std::size_t bytes, const int* expert_ids,
                         int count, cudaStream_t stream) {
  if (count <= 0 || bytes == 0) return;
  require_aligned(base, bytes);
  if (expert_stride % 16 != 0) throw std::invalid_argument("prefetch_experts_l2: stride must be a multiple of 16");
  prefetch_experts_l2_kernel<<<prefetch_grid(bytes * count), kPrefetchThreads, 0, stream>>>(
      static_cast<const char*>(base), expert_stride, bytes, expert_ids, count);
  RBENCH_CUDA_CHECK_LAUNCH();
}

}  // namespace rbench::engine::cuda
