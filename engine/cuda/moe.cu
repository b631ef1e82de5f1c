// Mixture of experts: routing (softmax or sigmoid scores, a selection-only bias, group-limited
// top-k), grouping the routed (token, slot) assignments by expert, the experts' SwiGLU MLPs for
// small batches (each expert's weights stream through once for all of its tokens; the large-batch
// path runs cuBLAS per expert instead, see cuda_model.cu), and the weighted sum back into the
// residual stream.
#include <mma.h>

#include <algorithm>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kRouterWarps = 4;

// The best of each lane's candidates over the warp: larger value first, then lower index, as
// cpu::route_token's top_k_indices orders them. Every lane gets the winner.
__device__ __forceinline__ int warp_argmax(float value, int index) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float other_value = __shfl_xor_sync(0xffffffffu, value, offset);
    const int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
    if (other_value > value || (other_value == value && other_index < index)) {
      value = other_value;
      index = other_index;
    }
  }
  return index;
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

// One warp per token; scores and choice scores of its experts in shared memory. expf, not __expf:
// the experts' order must come out as the CPU's does.
__device__ void route_row(const float* logits, const float* selection_bias, const RouterParams& p, int row,
                          float* scratch, int* expert_ids, float* weights) {
  const int lane = threadIdx.x % 32;
  float* scores = scratch;
  float* choice = scores + p.experts;
  float* group_scores = choice + p.experts;
  const float* in = logits + static_cast<std::size_t>(row) * p.experts;

  if (p.sigmoid) {
    for (int e = lane; e < p.experts; e += 32) scores[e] = 1.0f / (1.0f + expf(-in[e]));
  } else {
    float largest = -INFINITY;
    for (int e = lane; e < p.experts; e += 32) largest = fmaxf(largest, in[e]);
    largest = warp_max(largest);
    float sum = 0;
    for (int e = lane; e < p.experts; e += 32) {
      scores[e] = expf(in[e] - largest);
      sum += scores[e];
    }
    const float inverse = 1.0f / warp_sum(sum);
    for (int e = lane; e < p.experts; e += 32) scores[e] *= inverse;
  }
  for (int e = lane; e < p.experts; e += 32)
    choice[e] = scores[e] + (selection_bias != nullptr ? selection_bias[e] : 0.0f);
  __syncwarp();

  if (p.groups > 1) {
    // Group scores (lane g scores group g), then the best groups_kept groups stay eligible; the
    // others' experts get a choice score of 0, as transformers masks them.
    const int group_size = p.experts / p.groups;
    if (lane < p.groups) {
      const float* group = choice + lane * group_size;
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
    for (int e = lane; e < p.experts; e += 32) {
      if (!(kept >> (e / group_size) & 1u)) choice[e] = 0.0f;
    }
    __syncwarp();
  }

  float sum = 0;
  float chosen_weight[32];  // top_k ≤ 32
  int chosen_expert[32];
  for (int k = 0; k < p.top_k; ++k) {
    const int best = warp_best(choice, p.experts);
    chosen_expert[k] = best;
    chosen_weight[k] = scores[best];
    sum += scores[best];
    __syncwarp();
    if (lane == 0) choice[best] = -INFINITY;
    __syncwarp();
  }
  if (lane == 0) {
    const float divisor = p.normalize ? sum + 1e-20f : 1.0f;
    for (int k = 0; k < p.top_k; ++k) {
      expert_ids[static_cast<std::size_t>(row) * p.top_k + k] = chosen_expert[k];
      weights[static_cast<std::size_t>(row) * p.top_k + k] = chosen_weight[k] / divisor * p.scale;
    }
  }
}

__global__ void route_kernel(const float* logits, const float* selection_bias, RouterParams p, int rows,
                             int* expert_ids, float* weights) {
  wait_for_inputs();
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32;
  const int row = blockIdx.x * kRouterWarps + warp;
  if (row >= rows) return;
  route_row(logits, selection_bias, p, row, shared + warp * (2 * p.experts + 32), expert_ids, weights);
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

__global__ void route_and_group_kernel(const float* logits, const float* selection_bias, RouterParams p, int rows,
                                       int* expert_ids, float* weights, int* offsets, int* order, int* slot_of) {
  wait_for_inputs();
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32;
  for (int row = warp; row < rows; row += kRouteAndGroupWarps) {
    route_row(logits, selection_bias, p, row, shared + warp * (2 * p.experts + 32), expert_ids, weights);
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
// each expert's weights once per 16 rows. A block takes 64 weight rows of one expert and stages
// 64-wide K slices of them and of the rows in shared memory.
namespace mma = nvcuda::wmma;
constexpr int kMmaRows = 16;       // token rows per pass
constexpr int kMmaK = 64;          // K slice staged at a time
constexpr int kMmaLd = kMmaK + 8;  // padded rows: fewer bank conflicts, 32-byte aligned tiles
constexpr int kMmaColumns = 64;    // weight rows per block: 4 warps × 16
constexpr int kMmaResultLd = kMmaColumns + 4;

struct MmaTiles {
  alignas(32) bf16 rows[kMmaRows][kMmaLd];
  alignas(32) bf16 weights[kMmaColumns][kMmaLd];
  alignas(32) float result[kMmaRows][kMmaResultLd];
};

// result[r][c] = Σ_k rows r · weight row c over k ∈ [0, n), for the 16 rows and 64 weight rows that
// row_at(r) / weight_at(c) point to (null: zeros). All 128 threads take part.
template <class RowAt, class WeightAt>
__device__ void mma_tile(MmaTiles& t, int n, RowAt row_at, WeightAt weight_at) {
  const int warp = threadIdx.x / 32;
  mma::fragment<mma::accumulator, 16, 16, 16, float> accumulator;
  mma::fill_fragment(accumulator, 0.0f);
  for (int k0 = 0; k0 < n; k0 += kMmaK) {
    for (int i = threadIdx.x; i < (kMmaRows + kMmaColumns) * (kMmaK / 8); i += blockDim.x) {
      const int r = i / (kMmaK / 8);
      const int k = k0 + (i % (kMmaK / 8)) * 8;
      const bf16* source = r < kMmaRows ? row_at(r) : weight_at(r - kMmaRows);
      uint4 value = make_uint4(0, 0, 0, 0);
      if (source != nullptr && k < n) value = *reinterpret_cast<const uint4*>(source + k);
      bf16* target = r < kMmaRows ? &t.rows[r][k - k0] : &t.weights[r - kMmaRows][k - k0];
      *reinterpret_cast<uint4*>(target) = value;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kMmaK; kk += 16) {
      mma::fragment<mma::matrix_a, 16, 16, 16, bf16, mma::row_major> a;
      mma::fragment<mma::matrix_b, 16, 16, 16, bf16, mma::col_major> b;
      mma::load_matrix_sync(a, &t.rows[0][kk], kMmaLd);
      mma::load_matrix_sync(b, &t.weights[warp * 16][kk], kMmaLd);
      mma::mma_sync(accumulator, a, b, accumulator);
    }
    __syncthreads();
  }
  mma::store_matrix_sync(&t.result[0][warp * 16], accumulator, kMmaResultLd, mma::mem_row_major);
  __syncthreads();
}

// Block (expert, 32 intermediate columns): its 32 gate and 32 up rows, then SwiGLU.
__global__ void __launch_bounds__(128)
    expert_gate_up_mma_kernel(const bf16* x, const bf16* gate_up, const int* offsets, const int* order, int top_k,
                              int hidden, int intermediate, bf16* act) {
  wait_for_inputs();
  __shared__ MmaTiles tiles;
  const int expert = blockIdx.x;
  const int first = offsets[expert];
  const int count = offsets[expert + 1] - first;
  if (count == 0) return;
  const int j0 = blockIdx.y * (kMmaColumns / 2);
  const bf16* weights = gate_up + static_cast<std::size_t>(expert) * 2 * intermediate * hidden;
  for (int pass = 0; pass < count; pass += kMmaRows) {
    const int rows = min(kMmaRows, count - pass);
    mma_tile(
        tiles, hidden,
        [&](int r) -> const bf16* {
          return r < rows ? x + static_cast<std::size_t>(order[first + pass + r] / top_k) * hidden : nullptr;
        },
        [&](int c) -> const bf16* {
          const int j = j0 + c % (kMmaColumns / 2);
          if (j >= intermediate) return nullptr;
          return weights + static_cast<std::size_t>(c < kMmaColumns / 2 ? j : intermediate + j) * hidden;
        });
    for (int i = threadIdx.x; i < kMmaRows * (kMmaColumns / 2); i += blockDim.x) {
      const int r = i / (kMmaColumns / 2);
      const int c = i % (kMmaColumns / 2);
      if (r >= rows || j0 + c >= intermediate) continue;
      const float g = tiles.result[r][c];
      const float u = tiles.result[r][kMmaColumns / 2 + c];
      act[static_cast<std::size_t>(first + pass + r) * intermediate + j0 + c] =
          __float2bfloat16(g / (1.0f + __expf(-g)) * u);
    }
    __syncthreads();
  }
}

// Block (expert, 64 output columns).
__global__ void __launch_bounds__(128) expert_down_mma_kernel(const bf16* act, const bf16* down, const int* offsets,
                                                              int hidden, int intermediate, float* out) {
  wait_for_inputs();
  __shared__ MmaTiles tiles;
  const int expert = blockIdx.x;
  const int first = offsets[expert];
  const int count = offsets[expert + 1] - first;
  if (count == 0) return;
  const int c0 = blockIdx.y * kMmaColumns;
  const bf16* weights = down + static_cast<std::size_t>(expert) * hidden * intermediate;
  for (int pass = 0; pass < count; pass += kMmaRows) {
    const int rows = min(kMmaRows, count - pass);
    mma_tile(
        tiles, intermediate,
        [&](int r) -> const bf16* {
          return r < rows ? act + static_cast<std::size_t>(first + pass + r) * intermediate : nullptr;
        },
        [&](int c) -> const bf16* {
          return c0 + c < hidden ? weights + static_cast<std::size_t>(c0 + c) * intermediate : nullptr;
        });
    for (int i = threadIdx.x; i < kMmaRows * kMmaColumns; i += blockDim.x) {
      const int r = i / kMmaColumns;
      const int c = i % kMmaColumns;
      if (r < rows && c0 + c < hidden)
        out[static_cast<std::size_t>(first + pass + r) * hidden + c0 + c] = tiles.result[r][c];
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
  wait_for_inputs();
  const long long items = static_cast<long long>(assignments) * intermediate;
  for (long long item = global_warp(); item < items; item += grid_warps()) {
    const int a = static_cast<int>(item / intermediate);
    const int j = static_cast<int>(item % intermediate);
    const int expert = expert_ids != nullptr ? expert_ids[a] : 0;
    const W* gate = gate_up + (static_cast<std::size_t>(expert) * 2 * intermediate + j) * hidden;
    const W* up = gate + static_cast<std::size_t>(intermediate) * hidden;
    const W* row = x + static_cast<std::size_t>(a / top_k) * hidden;
    float g = 0;
    float u = 0;
    for (int k0 = 0; k0 < hidden; k0 += row_segment<W>()) {
      uint4 xs[kRowVectors], gs[kRowVectors], us[kRowVectors];
      load_segment(gate, hidden, k0, gs);
      load_segment(up, hidden, k0, us);
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
  if (p.groups < 1 || p.groups > 32 || experts % p.groups != 0 || p.groups_kept < 1 || p.groups_kept > p.groups) {
    throw std::invalid_argument("router: groups must divide the experts, at most 32, with 1..groups kept");
  }
  return p;
}

void route_tokens(const float* logits, const float* selection_bias, const RouterParams& params, int rows,
                  int* expert_ids, float* weights, cudaStream_t stream) {
  if (rows == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(kRouterWarps) * (2 * params.experts + 32) * sizeof(float);
  launch(route_kernel, blocks_for(rows, kRouterWarps), kRouterWarps * 32, bytes, stream, logits, selection_bias, params,
         rows, expert_ids, weights);
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
  const std::size_t bytes = std::max<std::size_t>(kRouteAndGroupWarps * (2 * params.experts + 32) * sizeof(float),
                                                  2 * params.experts * sizeof(int));
  launch(route_and_group_kernel, 1, kRouteAndGroupWarps * 32, bytes, stream, logits, selection_bias, params, rows,
         expert_ids, weights, offsets, order, slot_of);
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

void expert_gate_up_mma(const bf16* x, const bf16* gate_up, const int* offsets, const int* order, int top_k,
                        int experts, int hidden, int intermediate, bf16* act, cudaStream_t stream) {
  require_vector_rows(hidden, 8, "expert_gate_up_mma");
  const dim3 grid(experts, blocks_for(intermediate, kMmaColumns / 2));
  launch(expert_gate_up_mma_kernel, grid, 128, 0, stream, x, gate_up, offsets, order, top_k, hidden, intermediate, act);
  RBENCH_CUDA_CHECK_LAUNCH();
}

void expert_down_mma(const bf16* act, const bf16* down, const int* offsets, int experts, int hidden, int intermediate,
                     float* out, cudaStream_t stream) {
  require_vector_rows(intermediate, 8, "expert_down_mma");
  const dim3 grid(experts, blocks_for(hidden, kMmaColumns));
  launch(expert_down_mma_kernel, grid, 128, 0, stream, act, down, offsets, hidden, intermediate, out);
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

#define RBENCH_INSTANTIATE(W)                                                                              \
  template void expert_gate_up<W>(const W*, const W*, const int*, const int*, int, int, int, int, int, W*, \
                                  cudaStream_t);                                                           \
  template void expert_down<W>(const W*, const W*, const int*, int, int, int, int, float*, cudaStream_t);  \
  template void gather_assignment_rows<W>(const W*, const int*, int, int, int, W*, cudaStream_t);          \
  template void expert_gate_up_rows<W>(const W*, const W*, const int*, const int*, int, int, int, int, W*, \
                                       cudaStream_t);                                                      \
  template void expert_down_rows<W>(const W*, const W*, const int*, const int*, int, int, int, float*, cudaStream_t);
RBENCH_INSTANTIATE(float)
RBENCH_INSTANTIATE(bf16)
#undef RBENCH_INSTANTIATE

}  // namespace rbench::engine::cuda
