// Mixture of experts: routing (softmax or sigmoid scores, a selection-only bias, group-limited
// top-k), grouping the routed (token, slot) assignments by expert, the experts' SwiGLU MLPs for
// small batches (each expert's weights stream through once for all of its tokens; the large-batch
// path runs cuBLAS per expert instead, see cuda_model.cu), and the weighted sum back into the
// residual stream.
#include <cooperative_groups.h>
#include <mma.h>

#include <algorithm>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kRouterWarps = 4;

// A float's bits as an unsigned that orders as the float does (-0 counted as +0).
__device__ __forceinline__ unsigned ordered_bits(float x) {
  const unsigned bits = __float_as_uint(x + 0.0f);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

// The best of each lane's candidates over the warp: larger value first, then lower index, as
// cpu::route_token's top_k_indices orders them. Every lane gets the winner. Two warp reductions in
// hardware (redux.sync) instead of five rounds of shuffles: a top-8 pick runs it eight times in a row.
__device__ __forceinline__ int warp_argmax(float value, int index) {
  const unsigned key = ordered_bits(value);
  const unsigned best = __reduce_max_sync(0xffffffffu, key);
  return static_cast<int>(
      __reduce_min_sync(0xffffffffu, key == best ? static_cast<unsigned>(index) : 0xffffffffu));
}

// Index of the best of values[0..count) (larger, then lower index); -1 if count is 0.
__device__ int warp_best(const float* values, int count) {
  float best = -INFINITY;
  int best_index = INT_MAX;
  for (int i = threadIdx.x % 32; i < count; i += 32) {
    if (values[i] > best || (values[i] == best && i < best_index)) {
      best = values[i];
      best_index = i;
    }
  }
  const int winner = warp_argmax(best, best_index);
  return winner == INT_MAX ? -1 : winner;
}

// One warp per token, each lane holding the scores of experts lane, lane + 32, ... in registers
// (P of them: experts ≤ 32·P), so a top-k pick is a register scan and one warp argmax, with no
// shared-memory round trips. expf, not __expf: the experts' order must come out as the CPU's does.
// Shared memory (group-limited routing only): the choice scores and 32 group scores per warp.
// route_scores takes the logits in registers (scores[i]: expert lane + 32i), route_row loads them.
template <int P>
__device__ void route_scores(float (&scores)[P], const float* selection_bias, const RouterParams& p, int row,
                             float* scratch, int* expert_ids, float* weights) {
  const int lane = threadIdx.x % 32;
  float choice[P];  // -inf past the last expert and once picked: never chosen over a real score
  if (p.sigmoid) {
#pragma unroll
    for (int i = 0; i < P; ++i) scores[i] = 1.0f / (1.0f + expf(-scores[i]));
  } else {
    float largest = -INFINITY;
#pragma unroll
    for (int i = 0; i < P; ++i) {
      if (lane + 32 * i < p.experts) largest = fmaxf(largest, scores[i]);
    }
    largest = warp_max(largest);
    float sum = 0;
#pragma unroll
    for (int i = 0; i < P; ++i) {
      if (lane + 32 * i >= p.experts) continue;
      scores[i] = expf(scores[i] - largest);
      sum += scores[i];
    }
    const float inverse = 1.0f / warp_sum(sum);
#pragma unroll
    for (int i = 0; i < P; ++i) scores[i] *= inverse;
  }
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = lane + 32 * i;
    choice[i] = e < p.experts ? scores[i] + (selection_bias != nullptr ? selection_bias[e] : 0.0f) : -INFINITY;
  }

  if (p.groups > 1) {
    // Group scores (lane g scores group g), then the best groups_kept groups stay eligible; the
    // others' experts get a choice score of 0, as transformers masks them.
    float* group_choice = scratch;
    float* group_scores = scratch + p.experts;
#pragma unroll
    for (int i = 0; i < P; ++i) {
      if (lane + 32 * i < p.experts) group_choice[lane + 32 * i] = choice[i];
    }
    __syncwarp();
    const int group_size = p.experts / p.groups;
    if (lane < p.groups) {
      const float* group = group_choice + lane * group_size;
      float first = -INFINITY;
      float second = -INFINITY;
      for (int i = 0; i < group_size; ++i) {
        if (group[i] > first) {
          second = first;
          first = group[i];
        } else if (group[i] > second) {
          second = group[i];
        }
      }
      group_scores[lane] = p.group_by_top2_sum ? first + (group_size > 1 ? second : 0.0f) : first;
    }
    __syncwarp();
    unsigned kept = 0;
    for (int k = 0; k < p.groups_kept; ++k) {
      const int best = warp_best(group_scores, p.groups);
      kept |= 1u << best;
      __syncwarp();
      if (lane == 0) group_scores[best] = -INFINITY;
      __syncwarp();
    }
#pragma unroll
    for (int i = 0; i < P; ++i) {
      const int e = lane + 32 * i;
      if (e < p.experts && !(kept >> (e / group_size) & 1u)) choice[i] = 0.0f;
    }
  }

  // Pick k: each lane's best (registers in index order: the first of equals is the lower index),
  // the warp's best, then its owner drops it and every lane learns its score. Lane k keeps pick k.
  float sum = 0;
  int my_expert = 0;
  float my_score = 0;
  for (int k = 0; k < p.top_k; ++k) {
    float best_value = -INFINITY;
    int best_index = INT_MAX;
#pragma unroll
    for (int i = 0; i < P; ++i) {
      if (choice[i] > best_value) {
        best_value = choice[i];
        best_index = lane + 32 * i;
      }
    }
    const int best = warp_argmax(best_value, best_index);
    float score = 0;
#pragma unroll
    for (int i = 0; i < P; ++i) {
      if (lane + 32 * i == best) {
        score = scores[i];
        choice[i] = -INFINITY;
      }
    }
    score = __shfl_sync(0xffffffffu, score, best % 32);
    sum += score;
    if (lane == k) {
      my_expert = best;
      my_score = score;
    }
  }
  if (lane < p.top_k) {
    const float divisor = p.normalize ? sum + 1e-20f : 1.0f;
    expert_ids[static_cast<std::size_t>(row) * p.top_k + lane] = my_expert;
    weights[static_cast<std::size_t>(row) * p.top_k + lane] = my_score / divisor * p.scale;
  }
}

template <int P>
__device__ void route_row(const float* logits, const float* selection_bias, const RouterParams& p, int row,
                          float* scratch, int* expert_ids, float* weights) {
  const float* in = logits + static_cast<std::size_t>(row) * p.experts;
  float scores[P];
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = threadIdx.x % 32 + 32 * i;
    scores[i] = e < p.experts ? __ldcg(in + e) : 0.0f;  // L2: route_token_row's logits come from other blocks
  }
  route_scores<P>(scores, selection_bias, p, row, scratch, expert_ids, weights);
}

// Shared floats a routing warp needs.
__host__ __device__ inline int router_scratch_floats(const RouterParams& p) { return p.experts + 32; }

template <int P>
__global__ void route_kernel(const float* logits, const float* selection_bias, RouterParams p, int rows,
                             int* expert_ids, float* weights) {
  wait_for_inputs();
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32;
  const int row = blockIdx.x * kRouterWarps + warp;
  if (row >= rows) return;
  route_row<P>(logits, selection_bias, p, row, shared + warp * router_scratch_floats(p), expert_ids, weights);
}

// Calls launch(std::integral_constant<int, P>{}) with the fewest experts per lane P (a power of two
// up to kRouterMaxPerLane) that holds `experts`.
constexpr int kRouterMaxPerLane = 16;
template <class Launch>
void with_router_lanes(int experts, Launch&& launch) {
  if (experts <= 32) return launch(std::integral_constant<int, 1>{});
  if (experts <= 64) return launch(std::integral_constant<int, 2>{});
  if (experts <= 128) return launch(std::integral_constant<int, 4>{});
  if (experts <= 256) return launch(std::integral_constant<int, 8>{});
  static_assert(kRouterMaxPerLane == 16, "the widest instance below");
  return launch(std::integral_constant<int, 16>{});
}

// One token's router logits, `split` warps per expert in blocks of `block_warps` warps: each warp
// requests its first segment of router weights before waiting for the previous kernel (a Qwen3 row
// of 2048 floats is two segments, so all of it is in flight at once). Returns the expert whose
// logit this thread holds in `logit` (lane 0 of the expert's first warp), else -1. partial:
// [block_warps] shared floats. Every thread of the block must call it.
__device__ int router_logit(const float* x, const float* router, int hidden, int experts, int split, int block_warps,
                            float* partial, float& logit) {
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int expert = blockIdx.x * (block_warps / split) + warp / split;
  const int part = warp % split;
  const bool valid = expert < experts;
  const float* row = router + static_cast<std::size_t>(valid ? expert : 0) * hidden;
  const int stride = split * row_segment<float>();
  int k0 = part * row_segment<float>();
  uint4 w[kRowVectors];
  if (valid && k0 < hidden) load_segment(row, hidden, k0, w);
  wait_for_inputs();
  float sum = 0;
  for (; valid && k0 < hidden; k0 += stride) {
    uint4 xs[kRowVectors];
    load_segment(x, hidden, k0, xs);
    sum += dot_segment<float>(w, xs);
    if (k0 + stride < hidden) load_segment(row, hidden, k0 + stride, w);
  }
  sum = warp_sum(sum);
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (!valid || part != 0 || lane != 0) return -1;
  logit = 0;
  for (int q = 0; q < split; ++q) logit += partial[warp + q];
  return expert;
}

// One token, router product and routing in one launch: the logits from router_logit, and the last
// block to finish (by ticket, which it leaves at zero) routes the token from them.
constexpr int kRouterProductWarps = 8;

template <int P>
__global__ void __launch_bounds__(kRouterProductWarps * 32)
    route_token_row_kernel(const float* x, const float* router, int hidden, int split, const float* selection_bias,
                           RouterParams p, float* logits, unsigned* ticket, int* expert_ids, float* weights) {
  __shared__ float scratch[32 * P + 32];
  __shared__ float partial[kRouterProductWarps];
  float logit;
  const int expert = router_logit(x, router, hidden, p.experts, split, kRouterProductWarps, partial, logit);
  if (expert >= 0) logits[expert] = logit;
  if (!last_to_arrive(ticket, gridDim.x) || threadIdx.x >= 32) return;
  route_row<P>(logits, selection_bias, p, 0, scratch, expert_ids, weights);
}

// The same in one thread-block cluster, for routers whose `split` warps per expert fit in at most
// kMaxRouterCluster blocks: each block stores its experts' logits straight into block 0's shared
// memory (distributed shared memory) and arrives at the cluster barrier; only block 0 waits there,
// then its first warp routes the token. No ticket, fence or trip of the logits through L2, and the
// other blocks exit without waiting for the routing (+0.9% at batch 1 on Qwen3-30B-A3B, H100).
// At most the portable cluster size: every sm_90 part runs it, and the node of a captured step can be
// switched off and on again (with 16 blocks of 16 warps, cudaGraphNodeSetEnabled failed: "cluster
// misconfiguration"). Qwen3's 128 experts × 2 warps fill 8 blocks of 32 warps.
constexpr int kClusterRouterWarps = 32;
constexpr int kMaxRouterCluster = 8;

template <int P>
__global__ void __launch_bounds__(kClusterRouterWarps * 32)
    route_token_cluster_kernel(const float* x, const float* router, int hidden, int split, const float* selection_bias,
                               RouterParams p, float* logits, int* expert_ids, float* weights) {
  __shared__ float cluster_logits[32 * P];  // block 0's: every expert's logit
  __shared__ float partial[kClusterRouterWarps];
  __shared__ float scratch[32 * P + 32];
  cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
  // Block 0's shared memory may be written only once block 0 runs: this first barrier says so, and
  // its wait comes after the router product, when every block has long started.
  cluster.barrier_arrive();
  float logit;
  const int expert = router_logit(x, router, hidden, p.experts, split, kClusterRouterWarps, partial, logit);
  cluster.barrier_wait();
  if (expert >= 0) cluster.map_shared_rank(cluster_logits, 0)[expert] = logit;
  cluster.barrier_arrive();  // release: this block's logits are in block 0
  if (blockIdx.x != 0 || threadIdx.x >= 32) return;
  cluster.barrier_wait();
  const int lane = threadIdx.x % 32;
  float scores[P];
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int e = lane + 32 * i;
    scores[i] = e < p.experts ? cluster_logits[e] : 0.0f;
    if (e < p.experts) logits[e] = scores[i];
  }
  route_scores<P>(scores, selection_bias, p, 0, scratch, expert_ids, weights);
}

// One block: counts per expert, their prefix sums, then each assignment's place (atomics: the order
// within an expert is arbitrary, and nothing downstream depends on it).
__device__ void group_assignments(const int* expert_ids, int assignments, int experts, int* offsets, int* order,
                                  int* slot_of, int* counts) {  // counts: [experts] counts, then [experts] cursors
  int* cursor = counts + experts;
  for (int e = threadIdx.x; e < experts; e += blockDim.x) counts[e] = 0;
  __syncthreads();
  for (int a = threadIdx.x; a < assignments; a += blockDim.x) atomicAdd(&counts[expert_ids[a]], 1);
  __syncthreads();
  // Exclusive prefix sum by warp 0: each lane sums a run of experts, the warp scans the runs.
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    const int per_lane = (experts + 31) / 32;
    const int begin = min(experts, lane * per_lane);
    const int end = min(experts, begin + per_lane);
    int run = 0;
    for (int e = begin; e < end; ++e) run += counts[e];
    int before = run;
    for (int offset = 1; offset < 32; offset <<= 1) {
      const int other = __shfl_up_sync(0xffffffffu, before, offset);
      if (lane >= offset) before += other;
    }
    int running = before - run;
    for (int e = begin; e < end; ++e) {
      cursor[e] = running;
      offsets[e] = running;
      running += counts[e];
    }
    if (lane == 31) offsets[experts] = before;
  }
  __syncthreads();
  for (int a = threadIdx.x; a < assignments; a += blockDim.x) {
    const int place = atomicAdd(&cursor[expert_ids[a]], 1);
    order[place] = a;
    slot_of[a] = place;
  }
}

__global__ void group_kernel(const int* expert_ids, int assignments, int experts, int* offsets, int* order,
                             int* slot_of) {
  wait_for_inputs();
  extern __shared__ int counts[];
  group_assignments(expert_ids, assignments, experts, offsets, order, slot_of, counts);
}

// Both in one block for a few tokens (decoding): one launch instead of two.
constexpr int kRouteAndGroupWarps = 8;

template <int P>
__global__ void route_and_group_kernel(const float* logits, const float* selection_bias, RouterParams p, int rows,
                                       int* expert_ids, float* weights, int* offsets, int* order, int* slot_of) {
  wait_for_inputs();
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32;
  for (int row = warp; row < rows; row += kRouteAndGroupWarps) {
    route_row<P>(logits, selection_bias, p, row, shared + warp * router_scratch_floats(p), expert_ids, weights);
  }
  __syncthreads();
  group_assignments(expert_ids, rows * p.top_k, p.experts, offsets, order, slot_of, reinterpret_cast<int*>(shared));
}

// Block (expert, tile of output columns) of kStreamWarps warps, `split` warps per column; the
// expert's rows go through moe_rows_per_pass at a time, each pass streaming the tile's weights.
template <class W, int R>
__global__ void __launch_bounds__(kStreamWarps * 32)
    expert_gate_up_kernel(const W* x, const W* gate_up, const int* offsets, const int* order, int top_k, int hidden,
                          int intermediate, W* act, int split) {
  wait_for_inputs();
  __shared__ float gate_partial[kStreamWarps][R];
  __shared__ float up_partial[kStreamWarps][R];
  const int expert = blockIdx.x;
  const int first = offsets[expert];
  const int count = offsets[expert + 1] - first;
  if (count == 0) return;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int column = blockIdx.y * (kStreamWarps / split) + warp / split;
  const int part = warp % split;
  const bool valid = column < intermediate;
  const W* gate = gate_up + (static_cast<std::size_t>(expert) * 2 * intermediate + column) * hidden;
  const W* up = gate + static_cast<std::size_t>(intermediate) * hidden;
  for (int pass = 0; pass < count; pass += R) {
    const int rows = min(R, count - pass);
    const W* inputs[R];
#pragma unroll
    for (int r = 0; r < R; ++r)
      inputs[r] = x + static_cast<std::size_t>(order[first + pass + min(r, rows - 1)] / top_k) * hidden;
    float gate_sum[R] = {};
    float up_sum[R] = {};
    if (valid) {
      warp_dot_rows<W, R>(gate, inputs, rows, hidden, part, split, gate_sum);
      warp_dot_rows<W, R>(up, inputs, rows, hidden, part, split, up_sum);
    }
    store_warp_sums<R>(gate_sum, rows, gate_partial);
    store_warp_sums<R>(up_sum, rows, up_partial);
    __syncthreads();
    if (valid && part == 0 && lane < rows) {
      float g = 0;
      float u = 0;
      for (int p = 0; p < split; ++p) {
        g += gate_partial[warp + p][lane];
        u += up_partial[warp + p][lane];
      }
      act[static_cast<std::size_t>(first + pass + lane) * intermediate + column] =
          from_float<W>(g / (1.0f + __expf(-g)) * u);
    }
    __syncthreads();
  }
}

template <class W, int R>
__global__ void __launch_bounds__(kStreamWarps * 32)
    expert_down_kernel(const W* act, const W* down, const int* offsets, int hidden, int intermediate, float* out,
                       int split) {
  wait_for_inputs();
  __shared__ float partial[kStreamWarps][R];
  const int expert = blockIdx.x;
  const int first = offsets[expert];
  const int count = offsets[expert + 1] - first;
  if (count == 0) return;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int column = blockIdx.y * (kStreamWarps / split) + warp / split;
  const int part = warp % split;
  const bool valid = column < hidden;
  const W* weights = down + (static_cast<std::size_t>(expert) * hidden + column) * intermediate;
  for (int pass = 0; pass < count; pass += R) {
    const int rows = min(R, count - pass);
    const W* inputs[R];
#pragma unroll
    for (int r = 0; r < R; ++r)
      inputs[r] = act + static_cast<std::size_t>(first + pass + min(r, rows - 1)) * intermediate;
    float sums[R] = {};
    if (valid) warp_dot_rows<W, R>(weights, inputs, rows, intermediate, part, split, sums);
    store_warp_sums<R>(sums, rows, partial);
    __syncthreads();
    if (valid && part == 0 && lane < rows) {
      float total = 0;
      for (int p = 0; p < split; ++p) total += partial[warp + p][lane];
      out[static_cast<std::size_t>(first + pass + lane) * hidden + column] = total;
    }
    __syncthreads();
  }
}

// ---- tensor cores for a few rows per expert (batched decoding) ----
//
// Past a handful of rows per expert, CUDA-core products cost more than streaming the weights; these
// kernels run them on the tensor cores (WMMA, bf16 in, float32 accumulation) while still reading
// each expert's weights once per 32 rows. A block takes 64 weight rows of one expert; 64-wide K
// slices of them and of the 32 token rows stream into a ring of shared-memory stages with 16-byte
// cp.async copies, so slices k+1..k+3 are in flight while slice k is multiplied (the products are
// bound by reading the weights: one slice at a time left DRAM idle for most of a block's life).
namespace mma = nvcuda::wmma;
constexpr int kMmaThreads = 128;                      // 4 warps, 16 weight rows each
constexpr int kMmaRows = 32;                          // token rows per pass: two 16-row fragments
constexpr int kMmaColumns = 64;                       // weight rows per block
constexpr int kMmaK = 64;                             // K slice per stage
constexpr int kMmaStages = 4;                         // slices in the ring
constexpr int kMmaLd = kMmaK + 8;                     // padded rows: fewer bank conflicts, 32-byte aligned tiles
constexpr int kMmaTileRows = kMmaRows + kMmaColumns;  // a stage: the token rows, then the weight rows
constexpr int kMmaResultLd = kMmaColumns + 4;
constexpr int kMmaBlocksPerSm = 4;  // the ring's 54 KB allows 4 resident blocks: cap registers to match
// Each thread copies one 16-byte piece of every kMmaCopyStride-th tile row of a slice, from tile row
// threadIdx.x / kMmaPieces: kMmaTokenCopies token rows, then weight rows.
constexpr int kMmaPieces = kMmaK / 8;
constexpr int kMmaCopyStride = kMmaThreads / kMmaPieces;
constexpr int kMmaTokenCopies = kMmaRows / kMmaCopyStride;
constexpr int kMmaCopies = kMmaTileRows / kMmaCopyStride;
static_assert(kMmaRows % kMmaCopyStride == 0 && kMmaColumns % kMmaCopyStride == 0,
              "whole token and weight rows per thread");

// Dynamic shared memory (over the 48 KB a static array may take).
struct alignas(128) MmaRing {
  bf16 stage[kMmaStages][kMmaTileRows][kMmaLd];
};
static_assert(sizeof(float) * kMmaRows * kMmaResultLd <= sizeof(MmaRing), "the result tile reuses the ring");
static_assert(kMmaBlocksPerSm * (sizeof(MmaRing) + 1024) <= 228 * 1024, "an H100/H200 multiprocessor's shared memory");

// 16 bytes from global to shared memory, bypassing L1 (.cg: weights are read once); valid false:
// zeros (no bytes are read from source, which must still be a valid address).
__device__ __forceinline__ void copy_async_16(bf16* target, const bf16* source, bool valid) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(target));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(source), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void commit_copies() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Until at most `pending` of this thread's most recent copy groups are still in flight.
template <int pending>
__device__ __forceinline__ void wait_copies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending) : "memory");
}

// result[r][c] = Σ_k token row r · weight row c over k ∈ [0, n) (n a multiple of 8) for one pass of
// `rows` token rows: sources[i] is the row this thread copies into tile row
// threadIdx.x / kMmaPieces + i·kMmaCopyStride (token rows first, then weight rows; null: zeros),
// fallback any valid address. All threads take part. The result tile overlays the ring: read it,
// then __syncthreads() before the next pass.
__device__ __forceinline__ float (*mma_pass(MmaRing& ring, int n, int rows, const bf16* const (&sources)[kMmaCopies],
                                            const bf16* fallback))[kMmaResultLd] {
  const int warp = threadIdx.x / 32;
  const int piece = (threadIdx.x % kMmaPieces) * 8;
  const int first_row = threadIdx.x / kMmaPieces;
  const int slices = (n + kMmaK - 1) / kMmaK;
  const auto load_slice = [&](int slice) {
    const int k = slice * kMmaK + piece;
#pragma unroll
    for (int i = 0; i < kMmaCopies; ++i) {
      const bool valid = sources[i] != nullptr && k < n;
      copy_async_16(&ring.stage[slice % kMmaStages][first_row + i * kMmaCopyStride][piece],
                    valid ? sources[i] + k : fallback, valid);
    }
  };
  // One copy group per slice, empty ones too, so that "slice s landed" is always "all but the
  // kMmaStages - 2 most recent groups landed".
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) {
    if (s < slices) load_slice(s);
    commit_copies();
  }
  constexpr int kFragments = kMmaRows / 16;
  mma::fragment<mma::accumulator, 16, 16, 16, float> accumulator[kFragments];
#pragma unroll
  for (int f = 0; f < kFragments; ++f) mma::fill_fragment(accumulator[f], 0.0f);
  for (int s = 0; s < slices; ++s) {
    wait_copies<kMmaStages - 2>();
    // Everyone's copies of slice s have landed, and everyone is done with slice s - 1, whose stage
    // the copies of slice s + kMmaStages - 1 overwrite.
    __syncthreads();
    if (s + kMmaStages - 1 < slices) load_slice(s + kMmaStages - 1);
    commit_copies();
    const auto& tile = ring.stage[s % kMmaStages];
#pragma unroll
    for (int kk = 0; kk < kMmaK; kk += 16) {
      mma::fragment<mma::matrix_b, 16, 16, 16, bf16, mma::col_major> b;
      mma::load_matrix_sync(b, &tile[kMmaRows + warp * 16][kk], kMmaLd);
#pragma unroll
      for (int f = 0; f < kFragments; ++f) {
        if (f * 16 >= rows) continue;  // the pass has no rows there (the tile holds zeros)
        mma::fragment<mma::matrix_a, 16, 16, 16, bf16, mma::row_major> a;
        mma::load_matrix_sync(a, &tile[f * 16][kk], kMmaLd);
        mma::mma_sync(accumulator[f], a, b, accumulator[f]);
      }
    }
  }
  wait_copies<0>();
  __syncthreads();  // every warp is done with the ring before the result overwrites it
  const auto result = reinterpret_cast<float (*)[kMmaResultLd]>(&ring.stage[0][0][0]);
#pragma unroll
  for (int f = 0; f < kFragments; ++f)
    mma::store_matrix_sync(&result[f * 16][warp * 16], accumulator[f], kMmaResultLd, mma::mem_row_major);
  __syncthreads();
  return result;
}

// Block (expert, 32 intermediate columns): its 32 gate and 32 up rows, then SwiGLU.
__global__ void __launch_bounds__(kMmaThreads, kMmaBlocksPerSm)
    expert_gate_up_mma_kernel(const bf16* x, const bf16* gate_up, const int* offsets, const int* order, int top_k,
                              int hidden, int intermediate, bf16* act) {
  extern __shared__ __align__(128) unsigned char mma_shared[];
  MmaRing& ring = *reinterpret_cast<MmaRing*>(mma_shared);
  constexpr int kHalf = kMmaColumns / 2;
  const int expert = blockIdx.x;
  const int j0 = blockIdx.y * kHalf;
  const bf16* weights = gate_up + static_cast<std::size_t>(expert) * 2 * intermediate * hidden;
  // This thread's weight rows, fixed for all passes: tile rows [0, 32) are gate rows j0.., [32, 64) up rows.
  const bf16* sources[kMmaCopies];
#pragma unroll
  for (int i = kMmaTokenCopies; i < kMmaCopies; ++i) {
    const int c = threadIdx.x / kMmaPieces + (i - kMmaTokenCopies) * kMmaCopyStride;
    const int j = j0 + c % kHalf;
    sources[i] =
        j < intermediate ? weights + static_cast<std::size_t>(c < kHalf ? j : intermediate + j) * hidden : nullptr;
  }
  wait_for_inputs();
  const int first = offsets[expert];
  const int count = offsets[expert + 1] - first;
  if (count == 0) return;
  for (int pass = 0; pass < count; pass += kMmaRows) {
    const int rows = min(kMmaRows, count - pass);
#pragma unroll
    for (int i = 0; i < kMmaTokenCopies; ++i) {
      const int r = threadIdx.x / kMmaPieces + i * kMmaCopyStride;
      sources[i] = r < rows ? x + static_cast<std::size_t>(order[first + pass + r] / top_k) * hidden : nullptr;
    }
    const auto result = mma_pass(ring, hidden, rows, sources, weights);
    for (int i = threadIdx.x; i < kMmaRows * kHalf; i += kMmaThreads) {
      const int r = i / kHalf;
      const int c = i % kHalf;
      if (r >= rows || j0 + c >= intermediate) continue;
      const float g = result[r][c];
      const float u = result[r][kHalf + c];
      act[static_cast<std::size_t>(first + pass + r) * intermediate + j0 + c] =
          __float2bfloat16(g / (1.0f + __expf(-g)) * u);
    }
    __syncthreads();
  }
}

// Block (expert, 64 output columns).
__global__ void __launch_bounds__(kMmaThreads, kMmaBlocksPerSm)
    expert_down_mma_kernel(const bf16* act, const bf16* down, const int* offsets, int hidden, int intermediate,
                           float* out) {
  extern __shared__ __align__(128) unsigned char mma_shared[];
  MmaRing& ring = *reinterpret_cast<MmaRing*>(mma_shared);
  const int expert = blockIdx.x;
  const int c0 = blockIdx.y * kMmaColumns;
  const bf16* weights = down + static_cast<std::size_t>(expert) * hidden * intermediate;
  const bf16* sources[kMmaCopies];
#pragma unroll
  for (int i = kMmaTokenCopies; i < kMmaCopies; ++i) {
    const int c = c0 + threadIdx.x / kMmaPieces + (i - kMmaTokenCopies) * kMmaCopyStride;
    sources[i] = c < hidden ? weights + static_cast<std::size_t>(c) * intermediate : nullptr;
  }
  wait_for_inputs();
  const int first = offsets[expert];
  const int count = offsets[expert + 1] - first;
  if (count == 0) return;
  for (int pass = 0; pass < count; pass += kMmaRows) {
    const int rows = min(kMmaRows, count - pass);
#pragma unroll
    for (int i = 0; i < kMmaTokenCopies; ++i) {
      const int r = threadIdx.x / kMmaPieces + i * kMmaCopyStride;
      sources[i] = r < rows ? act + static_cast<std::size_t>(first + pass + r) * intermediate : nullptr;
    }
    const auto result = mma_pass(ring, intermediate, rows, sources, weights);
    for (int i = threadIdx.x; i < kMmaRows * kMmaColumns; i += kMmaThreads) {
      const int r = i / kMmaColumns;
      const int c = i % kMmaColumns;
      if (r < rows && c0 + c < hidden)
        out[static_cast<std::size_t>(first + pass + r) * hidden + c0 + c] = result[r][c];
    }
    __syncthreads();
  }
}

// ---- one row per expert (batch-1 decoding): grid-stride items, a whole segment of loads each ----

// Item (assignment a, intermediate column j): the gate and up rows of a's expert against its token.
template <class W>
__global__ void __launch_bounds__(256)
    expert_gate_up_row_kernel(const W* x, const W* gate_up, const int* expert_ids, const int* slot_of, int assignments,
                              int top_k, int hidden, int intermediate, W* act) {
  const long long items = static_cast<long long>(assignments) * intermediate;
  const long long first = global_warp();
  // A dense MLP's weights (no expert ids to wait for): the first item's first segment is requested
  // before waiting for the previous kernel.
  uint4 gs[kRowVectors], us[kRowVectors];
  const bool preloaded = expert_ids == nullptr && first < items;
  if (preloaded) {
    const W* gate = gate_up + static_cast<std::size_t>(first) * hidden;
    load_segment(gate, hidden, 0, gs);
    load_segment(gate + static_cast<std::size_t>(intermediate) * hidden, hidden, 0, us);
  }
  wait_for_inputs();
  // The down product may start now and request its first weights (a dense MLP's: +3.5% at batch 1
  // on the H200): the expert ids are there, as this kernel has waited.
  let_next_kernel_start();
  for (long long item = first; item < items; item += grid_warps()) {
    const int a = static_cast<int>(item / intermediate);
    const int j = static_cast<int>(item % intermediate);
    const int expert = expert_ids != nullptr ? expert_ids[a] : 0;
    const W* gate = gate_up + (static_cast<std::size_t>(expert) * 2 * intermediate + j) * hidden;
    const W* up = gate + static_cast<std::size_t>(intermediate) * hidden;
    const W* row = x + static_cast<std::size_t>(a / top_k) * hidden;
    float g = 0;
    float u = 0;
    for (int k0 = 0; k0 < hidden; k0 += row_segment<W>()) {
      uint4 xs[kRowVectors];
      if (!preloaded || item != first || k0 != 0) {
        load_segment(gate, hidden, k0, gs);
        load_segment(up, hidden, k0, us);
      }
      load_segment(row, hidden, k0, xs);
      g += dot_segment<W>(gs, xs);
      u += dot_segment<W>(us, xs);
    }
    g = warp_sum(g);
    u = warp_sum(u);
    if (threadIdx.x % 32 == 0) {
      const int slot = slot_of != nullptr ? slot_of[a] : a;
      act[static_cast<std::size_t>(slot) * intermediate + j] = from_float<W>(g / (1.0f + __expf(-g)) * u);
    }
  }
}

// Item (assignment a, output columns c and c + 1): a's expert's down rows against a's activations.
template <class W>
__global__ void __launch_bounds__(256)
    expert_down_row_kernel(const W* act, const W* down, const int* expert_ids, const int* slot_of, int assignments,
                           int hidden, int intermediate, float* out) {
  wait_for_inputs();
  const int pairs = (hidden + 1) / 2;
  const long long items = static_cast<long long>(assignments) * pairs;
  for (long long item = global_warp(); item < items; item += grid_warps()) {
    const int a = static_cast<int>(item / pairs);
    const int c = 2 * static_cast<int>(item % pairs);
    const bool second = c + 1 < hidden;
    const int slot = slot_of[a];
    const W* weights = down + (static_cast<std::size_t>(expert_ids[a]) * hidden + c) * intermediate;
    const W* row = act + static_cast<std::size_t>(slot) * intermediate;
    float sum0 = 0;
    float sum1 = 0;
    for (int k0 = 0; k0 < intermediate; k0 += row_segment<W>()) {
      uint4 xs[kRowVectors], w0[kRowVectors], w1[kRowVectors];
      load_segment(weights, intermediate, k0, w0);
      if (second) load_segment(weights + intermediate, intermediate, k0, w1);
      load_segment(row, intermediate, k0, xs);
      sum0 += dot_segment<W>(w0, xs);
      if (second) sum1 += dot_segment<W>(w1, xs);
    }
    sum0 = warp_sum(sum0);
    sum1 = warp_sum(sum1);
    if (threadIdx.x % 32 == 0) {
      out[static_cast<std::size_t>(slot) * hidden + c] = sum0;
      if (second) out[static_cast<std::size_t>(slot) * hidden + c + 1] = sum1;
    }
  }
}

// One token, no shared expert: hidden_state[c] += Σ_k weight_k · (down row c of expert e_k) · act_k,
// the top_k activation rows act[k] in slot order, with no separate combine launch (nor the
// expert_out round trip). Column c's (slot, 16-byte vector) items are shared by `split` warps of a
// block, each taking every split-th round of 32·kRowVectors items; `split` is chosen so a warp has
// one round (Qwen3: 8 rows of 768 → 4 warps per column: +8% at batch 1 over a warp per column).
// The routing is in place before this kernel starts (the gate/up launch lets it start only after its
// own wait), so each warp requests its first round of weights before it waits for the activations
// (with the early start: +1.6% at batch 1 on Qwen3-30B-A3B, H100; the early start alone took 4% off).
template <class W>
__global__ void __launch_bounds__(kStreamWarps * 32)
    expert_down_combine_row_kernel(const W* act, const W* down, const int* expert_ids, const float* weights, int top_k,
                                   int hidden, int intermediate, int split, float* hidden_state) {
  __shared__ const W* slot_down[32];
  __shared__ float slot_weight[32];
  __shared__ float partial[kStreamWarps];
  if (threadIdx.x < top_k) {  // L2: the routing was written by a kernel this one may overlap
    slot_down[threadIdx.x] = down + static_cast<std::size_t>(__ldcg(expert_ids + threadIdx.x)) * hidden * intermediate;
    slot_weight[threadIdx.x] = __ldcg(weights + threadIdx.x);
  }
  __syncthreads();
  constexpr int V = vector_width<W>();
  const int vectors = intermediate / V;
  const int items = top_k * vectors;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int c = blockIdx.x * (kStreamWarps / split) + warp / split;
  const int part = warp % split;
  const bool valid_column = c < hidden;
  const int round = split * 32 * kRowVectors;
  const auto load_weights = [&](int i0, uint4(&w)[kRowVectors]) {
#pragma unroll
    for (int u = 0; u < kRowVectors; ++u) {
      const int i = i0 + u * 32 + lane;
      const int slot = i / vectors;
      const int k = (i - slot * vectors) * V;
      w[u] = valid_column && i < items
                 ? *reinterpret_cast<const uint4*>(slot_down[slot] + static_cast<std::size_t>(c) * intermediate + k)
                 : make_uint4(0, 0, 0, 0);
    }
  };
  int i0 = part * 32 * kRowVectors;
  uint4 w[kRowVectors];
  if (i0 < items) load_weights(i0, w);
  wait_for_inputs();
  float sum = 0;
  for (; i0 < items; i0 += round) {
    uint4 a[kRowVectors];
    float scale[kRowVectors];
#pragma unroll
    for (int u = 0; u < kRowVectors; ++u) {
      const int i = i0 + u * 32 + lane;
      const int slot = i / vectors;
      const int k = (i - slot * vectors) * V;
      const bool valid = valid_column && i < items;
      a[u] = valid ? *reinterpret_cast<const uint4*>(act + static_cast<std::size_t>(slot) * intermediate + k)
                   : make_uint4(0, 0, 0, 0);
      scale[u] = valid ? slot_weight[slot] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kRowVectors; ++u) sum += scale[u] * dot_vector(w[u], a[u], W{});
    if (i0 + round < items) load_weights(i0 + round, w);
  }
  sum = warp_sum(sum);
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (!valid_column || part != 0 || lane != 0) return;
  float total = 0;
  for (int p = 0; p < split; ++p) total += partial[warp + p];
  hidden_state[c] += total;
}

template <class W>
__global__ void gather_kernel(const W* x, const int* order, int top_k, int hidden, W* x_sorted) {
  wait_for_inputs();
  const int i = blockIdx.x;
  const W* source = x + static_cast<std::size_t>(order[i] / top_k) * hidden;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) x_sorted[static_cast<std::size_t>(i) * hidden + c] = source[c];
}

// Block (row, tile of columns): the row's slot weights and places are read once into shared memory.
__global__ void combine_kernel(float* hidden, int hidden_size, const float* expert_out, const int* slot_of,
                               const float* weights, int top_k, const float* shared_out, const float* shared_gate,
                               const float* x) {
  wait_for_inputs();
  __shared__ float scratch[32];
  __shared__ float slot_weight[32];
  __shared__ int slot_place[32];
  const int row = blockIdx.x;
  if (threadIdx.x < top_k) {
    slot_weight[threadIdx.x] = weights[row * top_k + threadIdx.x];
    slot_place[threadIdx.x] = slot_of[row * top_k + threadIdx.x];
  }
  float gate = 1;
  if (shared_gate != nullptr) {
    float dot = 0;
    for (int c = threadIdx.x; c < hidden_size; c += blockDim.x)
      dot += x[static_cast<std::size_t>(row) * hidden_size + c] * shared_gate[c];
    gate = 1.0f / (1.0f + __expf(-block_sum(dot, scratch)));
  }
  __syncthreads();
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= hidden_size) return;
  float sum = 0;
#pragma unroll 8
  for (int s = 0; s < top_k; ++s)
    sum += slot_weight[s] * expert_out[static_cast<std::size_t>(slot_place[s]) * hidden_size + c];
  if (shared_out != nullptr) sum += gate * shared_out[static_cast<std::size_t>(row) * hidden_size + c];
  hidden[static_cast<std::size_t>(row) * hidden_size + c] += sum;
}

void require_vector_rows(int n, int width, const char* what) {
  if (n % width != 0) {
    throw std::invalid_argument(std::string(what) + ": rows of " + std::to_string(n) +
                                " elements are not a whole number of 16-byte vectors");
  }
}

}  // namespace

RouterParams router_params(const cpu::RouterSpec& spec, int experts) {
  RouterParams p;
  p.experts = experts;
  p.top_k = static_cast<int>(spec.top_k);
  p.sigmoid = spec.score == cpu::RouterScore::sigmoid;
  p.groups = static_cast<int>(spec.groups);
  p.groups_kept = static_cast<int>(spec.groups_kept);
  p.group_by_top2_sum = spec.group_score == cpu::GroupScore::sum_of_top2;
  p.normalize = spec.normalize;
  p.scale = spec.scale;
  if (p.top_k < 1 || p.top_k > 32 || p.top_k > experts)
    throw std::invalid_argument("router: top_k must be in 1..min(32, experts)");
  if (experts > 32 * kRouterMaxPerLane)
    throw std::invalid_argument("router: at most " + std::to_string(32 * kRouterMaxPerLane) + " experts");
  if (p.groups < 1 || p.groups > 32 || experts % p.groups != 0 || p.groups_kept < 1 || p.groups_kept > p.groups) {
    throw std::invalid_argument("router: groups must divide the experts, at most 32, with 1..groups kept");
  }
  return p;
}

void route_tokens(const float* logits, const float* selection_bias, const RouterParams& params, int rows,
                  int* expert_ids, float* weights, cudaStream_t stream) {
  if (rows == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(kRouterWarps) * router_scratch_floats(params) * sizeof(float);
  with_router_lanes(params.experts, [&](auto lanes) {
    launch(route_kernel<decltype(lanes)::value>, blocks_for(rows, kRouterWarps), kRouterWarps * 32, bytes, stream,
           logits, selection_bias, params, rows, expert_ids, weights);
  });
  RBENCH_CUDA_CHECK_LAUNCH();
}

void route_token_row(const float* x, const float* router, int hidden, const float* selection_bias,
                     const RouterParams& params, float* logits, unsigned* ticket, int* expert_ids, float* weights,
                     cudaStream_t stream) {
  require_vector_rows(hidden, vector_width<float>(), "route_token_row");
  // Warps per expert: one per segment of its row, in a power of two up to a block.
  const int segment = row_segment<float>();
  const int segments = (hidden + segment - 1) / segment;
  const auto split_for = [&](int block_warps) {
    int split = 1;
    while (split < segments && split < block_warps) split *= 2;
    return split;
  };
  const int cluster_split = split_for(kClusterRouterWarps);
  const int cluster_blocks = blocks_for(params.experts, kClusterRouterWarps / cluster_split);
  if (cluster_blocks <= kMaxRouterCluster) {
    with_router_lanes(params.experts, [&](auto lanes) {
      const auto kernel = route_token_cluster_kernel<decltype(lanes)::value>;
      launch_in_clusters(cluster_blocks, kernel, cluster_blocks, kClusterRouterWarps * 32, 0, stream, x, router,
                         hidden, cluster_split, selection_bias, params, logits, expert_ids, weights);
    });
    RBENCH_CUDA_CHECK_LAUNCH();
    return;
  }
  const int split = split_for(kRouterProductWarps);
  with_router_lanes(params.experts, [&](auto lanes) {
    launch(route_token_row_kernel<decltype(lanes)::value>, blocks_for(params.experts, kRouterProductWarps / split),
           kRouterProductWarps * 32, 0, stream, x, router, hidden, split, selection_bias, params, logits, ticket,
           expert_ids, weights);
  });
  RBENCH_CUDA_CHECK_LAUNCH();
}

void group_by_expert(const int* expert_ids, int assignments, int experts, int* offsets, int* order, int* slot_of,
                     cudaStream_t stream) {
  launch(group_kernel, 1, 1024, 2 * experts * sizeof(int), stream, expert_ids, assignments, experts, offsets, order,
         slot_of);
  RBENCH_CUDA_CHECK_LAUNCH();
}

void route_and_group(const float* logits, const float* selection_bias, const RouterParams& params, int rows,
                     int* expert_ids, float* weights, int* offsets, int* order, int* slot_of, cudaStream_t stream) {
  if (rows == 0) return;
  if (rows > route_and_group_max_rows) {
    route_tokens(logits, selection_bias, params, rows, expert_ids, weights, stream);
    group_by_expert(expert_ids, rows * params.top_k, params.experts, offsets, order, slot_of, stream);
    return;
  }
  const std::size_t bytes = std::max<std::size_t>(kRouteAndGroupWarps * router_scratch_floats(params) * sizeof(float),
                                                  2 * params.experts * sizeof(int));
  with_router_lanes(params.experts, [&](auto lanes) {
    launch(route_and_group_kernel<decltype(lanes)::value>, 1, kRouteAndGroupWarps * 32, bytes, stream, logits,
           selection_bias, params, rows, expert_ids, weights, offsets, order, slot_of);
  });
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void expert_gate_up(const W* x, const W* gate_up, const int* offsets, const int* order, int top_k, int experts,
                    int hidden, int intermediate, int max_rows, W* act, cudaStream_t stream) {
  require_vector_rows(hidden, vector_width<W>(), "expert_gate_up");
  // About top_k experts work per token; the others' blocks return at once.
  const int split =
      stream_split(static_cast<long long>(std::min(experts, 8)) * intermediate, hidden, vector_width<W>());
  const dim3 grid(experts, blocks_for(intermediate, kStreamWarps / split));
  const auto run = [&](auto kernel) {
    launch(kernel, grid, kStreamWarps * 32, 0, stream, x, gate_up, offsets, order, top_k, hidden, intermediate, act,
           split);
  };
  static_assert(moe_rows_per_pass == 8, "with_stream_rows' widest kernel instance holds 8 rows");
  with_stream_rows(max_rows, [&](auto r) { run(expert_gate_up_kernel<W, decltype(r)::value>); });
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void expert_down(const W* act, const W* down, const int* offsets, int experts, int hidden, int intermediate,
                 int max_rows, float* out, cudaStream_t stream) {
  require_vector_rows(intermediate, vector_width<W>(), "expert_down");
  const int split =
      stream_split(static_cast<long long>(std::min(experts, 8)) * hidden, intermediate, vector_width<W>());
  const dim3 grid(experts, blocks_for(hidden, kStreamWarps / split));
  const auto run = [&](auto kernel) {
    launch(kernel, grid, kStreamWarps * 32, 0, stream, act, down, offsets, hidden, intermediate, out, split);
  };
  with_stream_rows(max_rows, [&](auto r) { run(expert_down_kernel<W, decltype(r)::value>); });
  RBENCH_CUDA_CHECK_LAUNCH();
}

// The ring is over the 48 KB a kernel gets without asking, and allows kMmaBlocksPerSm blocks per
// multiprocessor only if shared memory gets the largest share of the unified L1 (the copies bypass
// L1 anyway). Function attributes, not stream operations: fine during graph capture.
template <class Kernel>
void allow_mma_ring(Kernel kernel) {
  RBENCH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, sizeof(MmaRing)));
  RBENCH_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
}

void expert_gate_up_mma(const bf16* x, const bf16* gate_up, const int* offsets, const int* order, int top_k,
                        int experts, int hidden, int intermediate, bf16* act, cudaStream_t stream) {
  require_vector_rows(hidden, 8, "expert_gate_up_mma");
  allow_mma_ring(expert_gate_up_mma_kernel);
  const dim3 grid(experts, blocks_for(intermediate, kMmaColumns / 2));
  launch(expert_gate_up_mma_kernel, grid, kMmaThreads, sizeof(MmaRing), stream, x, gate_up, offsets, order, top_k,
         hidden, intermediate, act);
  RBENCH_CUDA_CHECK_LAUNCH();
}

void expert_down_mma(const bf16* act, const bf16* down, const int* offsets, int experts, int hidden, int intermediate,
                     float* out, cudaStream_t stream) {
  require_vector_rows(intermediate, 8, "expert_down_mma");
  allow_mma_ring(expert_down_mma_kernel);
  const dim3 grid(experts, blocks_for(hidden, kMmaColumns));
  launch(expert_down_mma_kernel, grid, kMmaThreads, sizeof(MmaRing), stream, act, down, offsets, hidden, intermediate,
         out);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void expert_gate_up_rows(const W* x, const W* gate_up, const int* expert_ids, const int* slot_of, int assignments,
                         int top_k, int hidden, int intermediate, W* act, cudaStream_t stream) {
  require_vector_rows(hidden, vector_width<W>(), "expert_gate_up_rows");
  launch(expert_gate_up_row_kernel<W>, row_grid(static_cast<long long>(assignments) * intermediate), 256, 0, stream, x,
         gate_up, expert_ids, slot_of, assignments, top_k, hidden, intermediate, act);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void expert_down_rows(const W* act, const W* down, const int* expert_ids, const int* slot_of, int assignments,
                      int hidden, int intermediate, float* out, cudaStream_t stream) {
  require_vector_rows(intermediate, vector_width<W>(), "expert_down_rows");
  launch(expert_down_row_kernel<W>, row_grid(static_cast<long long>(assignments) * ((hidden + 1) / 2)), 256, 0, stream,
         act, down, expert_ids, slot_of, assignments, hidden, intermediate, out);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void expert_down_combine_row(const W* act, const W* down, const int* expert_ids, const float* weights, int top_k,
                             int hidden, int intermediate, float* hidden_state, cudaStream_t stream) {
  require_vector_rows(intermediate, vector_width<W>(), "expert_down_combine_row");
  if (top_k < 1 || top_k > 32) throw std::invalid_argument("expert_down_combine_row: top_k must be in 1..32");
  // Warps per column: enough that each has one round of loads, a power of two up to the block.
  const int rounds = (top_k * (intermediate / vector_width<W>()) + 32 * kRowVectors - 1) / (32 * kRowVectors);
  int split = 1;
  while (split < rounds && split < kStreamWarps) split *= 2;
  launch(expert_down_combine_row_kernel<W>, blocks_for(hidden, kStreamWarps / split), kStreamWarps * 32, 0, stream, act,
         down, expert_ids, weights, top_k, hidden, intermediate, split, hidden_state);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void gather_assignment_rows(const W* x, const int* order, int assignments, int top_k, int hidden, W* x_sorted,
                            cudaStream_t stream) {
  if (assignments == 0) return;
  launch(gather_kernel<W>, assignments, 256, 0, stream, x, order, top_k, hidden, x_sorted);
  RBENCH_CUDA_CHECK_LAUNCH();
}

void combine_experts(float* hidden, int rows, int hidden_size, const float* expert_out, const int* slot_of,
                     const float* weights, int top_k, const float* shared_out, const float* shared_gate, const float* x,
                     cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 grid(rows, blocks_for(hidden_size, 256));
  launch(combine_kernel, grid, 256, 0, stream, hidden, hidden_size, expert_out, slot_of, weights, top_k, shared_out,
         shared_gate, x);
  RBENCH_CUDA_CHECK_LAUNCH();
}

#define RBENCH_INSTANTIATE(W)                                                                                   \
  template void expert_gate_up<W>(const W*, const W*, const int*, const int*, int, int, int, int, int, W*,      \
                                  cudaStream_t);                                                                \
  template void expert_down<W>(const W*, const W*, const int*, int, int, int, int, float*, cudaStream_t);       \
  template void gather_assignment_rows<W>(const W*, const int*, int, int, int, W*, cudaStream_t);               \
  template void expert_gate_up_rows<W>(const W*, const W*, const int*, const int*, int, int, int, int, W*,      \
                                       cudaStream_t);                                                           \
  template void expert_down_rows<W>(const W*, const W*, const int*, const int*, int, int, int, float*,          \
                                    cudaStream_t);                                                              \
  template void expert_down_combine_row<W>(const W*, const W*, const int*, const float*, int, int, int, float*, \
                                           cudaStream_t);
RBENCH_INSTANTIATE(float)
RBENCH_INSTANTIATE(bf16)
#undef RBENCH_INSTANTIATE

}  // namespace rbench::engine::cuda
