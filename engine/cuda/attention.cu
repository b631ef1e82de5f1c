// Causal attention over the paged KV cache, for prefill rows and decode rows alike. Two kernels:
//
// - Tensor cores (bf16, key and value heads both 64 or 128 wide: the Qwen, Llama, Mixtral and OLMoE
//   shapes). A block takes one token row, one kv head and up to 16 of the query heads that read it
//   (the M of a 16×8×16 mma), over one split of the row's positions; each of its 8 warps takes tiles
//   of 32 positions. Keys and values go from the cache straight into mma fragments (see
//   "fragments" below), the scores stay in registers as the next product's input (FlashAttention-2),
//   and the warps' softmaxes merge in shared memory.
// - Everything else (float32 weights, MLA's 576/512 widths, small test heads): a block stages
//   32-position tiles of keys and values in shared memory with 16-byte loads, each lane scores one
//   position against the block's heads, and every thread accumulates its own (head, dim) outputs.
//
// Either kernel spreads a row over several splits of its positions when rows are few (flash-decoding):
// the block that finishes a (row, kv head, head chunk) last merges the splits' partial softmaxes.
#include <algorithm>
#include <type_traits>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 32;              // positions per tile: one per lane
constexpr int kMaxHeadsPerBlock = 16;  // query heads a block serves
constexpr int kOutputsPerThread = 16;  // (head, dim) outputs a thread accumulates
constexpr int kMaxValueDim = 512;
constexpr int kMaxSplits = 64;
// Per head in shared memory: a tile's probabilities, or at the merge the splits' weights.
constexpr int kScoreRow = kMaxSplits > kTile ? kMaxSplits : kTile;

// The output layout: thread t owns dims d0, d0 + 128, ... (M of them) of heads hg, hg + G, ...
// Value heads up to 128 wide leave G = 128 / value_dim threads per dim, each with its share of the
// heads; wider ones give each thread M = value_dim / 128 dims of every head.
__host__ __device__ inline int head_groups(int value_dim) { return value_dim <= kThreads ? kThreads / value_dim : 1; }
__host__ __device__ inline int dims_per_thread(int value_dim) {
  const int dims = (value_dim + kThreads - 1) / kThreads;
  return dims <= 1 ? 1 : (dims <= 2 ? 2 : 4);
}

// Query heads per block: the whole group when its outputs fit the threads' accumulators.
__host__ __device__ inline int heads_per_block(const AttentionShape& shape) {
  const int group = shape.heads / shape.kv_heads;
  const int fit = head_groups(shape.value_dim) * (kOutputsPerThread / dims_per_thread(shape.value_dim));
  const int heads = group < kMaxHeadsPerBlock ? group : kMaxHeadsPerBlock;
  return heads < fit ? heads : fit;
}

int head_chunks(const AttentionShape& shape) {
  const int group = shape.heads / shape.kv_heads;
  return (group + heads_per_block(shape) - 1) / heads_per_block(shape);
}

// Shared memory rows are padded by 16 bytes, so the 8 lanes of a quarter-warp reading 16-byte
// pieces of 8 consecutive rows hit 8 different bank groups.
template <class W>
int padded(int width) {
  return width + 16 / static_cast<int>(sizeof(W));
}

struct TileLayout {
  int key_stride = 0;    // elements of W per staged key row
  int value_stride = 0;  // 0: values are the front of the key rows (MLA)
  std::size_t query_bytes = 0, key_bytes = 0, value_bytes = 0, score_bytes = 0;
  std::size_t bytes() const { return query_bytes + key_bytes + value_bytes + score_bytes; }
};

template <class W>
TileLayout tile_layout(const AttentionShape& shape, bool values_in_keys) {
  TileLayout t;
  t.key_stride = padded<W>(shape.key_dim);
  t.value_stride = values_in_keys ? 0 : padded<W>(shape.value_dim);
  t.query_bytes = static_cast<std::size_t>(kMaxHeadsPerBlock) * shape.key_dim * sizeof(float);
  t.key_bytes = static_cast<std::size_t>(kTile) * t.key_stride * sizeof(W);
  t.value_bytes = static_cast<std::size_t>(kTile) * t.value_stride * sizeof(W);
  // Probabilities [heads][kScoreRow], then per head the running max, running sum and this tile's correction.
  t.score_bytes = static_cast<std::size_t>(kMaxHeadsPerBlock) * (kScoreRow + 3) * sizeof(float);
  return t;
}

__device__ __forceinline__ float dot_key(const float* q, const uint4& k, float) {
  const float4 a = *reinterpret_cast<const float4*>(q);
  const float4 b = *reinterpret_cast<const float4*>(&k);
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

__device__ __forceinline__ float dot_key(const float* q, const uint4& k, bf16) {
  const float4 a0 = *reinterpret_cast<const float4*>(q);
  const float4 a1 = *reinterpret_cast<const float4*>(q + 4);
  const __nv_bfloat162* b = reinterpret_cast<const __nv_bfloat162*>(&k);
  const float2 b0 = __bfloat1622float2(b[0]), b1 = __bfloat1622float2(b[1]), b2 = __bfloat1622float2(b[2]),
               b3 = __bfloat1622float2(b[3]);
  return a0.x * b0.x + a0.y * b0.y + a0.z * b1.x + a0.w * b1.y + a1.x * b2.x + a1.y * b2.y + a1.z * b3.x +
         a1.w * b3.y;
}

// One side (keys or values) of a tile: rows of `vectors` 16-byte vectors, from column `column` of
// the layer's cached rows of `row_width`, into shared rows `stride` apart.
template <class W>
struct TileSource {
  const W* pool;
  int row_width;
  int column;
  int vectors;
  W* tile;
  int stride;
};

// Stages positions [0, n) of a tile, keys and values together, kStageLoads 16-byte loads in flight
// per thread: one latency per round, not one per vector. slots[p] is position p's cache row.
constexpr int kStageLoads = 8;

template <class W>
__device__ void stage_tile(const TileSource<W>& keys, const TileSource<W>& values, const std::size_t* slots, int n) {
  constexpr int V = vector_width<W>();
  const int key_items = n * keys.vectors;
  const int items = key_items + n * values.vectors;
  for (int base = threadIdx.x; base < items; base += kStageLoads * blockDim.x) {
    uint4 loaded[kStageLoads];
    W* target[kStageLoads];
#pragma unroll
    for (int u = 0; u < kStageLoads; ++u) {
      const int i = base + u * static_cast<int>(blockDim.x);
      target[u] = nullptr;
      if (i >= items) continue;
      const bool is_key = i < key_items;
      const TileSource<W>& side = is_key ? keys : values;
      const int item = is_key ? i : i - key_items;
      const int p = item / side.vectors;
      const int c = (item % side.vectors) * V;
      loaded[u] = *reinterpret_cast<const uint4*>(side.pool + slots[p] * side.row_width + side.column + c);
      target[u] = side.tile + p * side.stride + c;
    }
#pragma unroll
    for (int u = 0; u < kStageLoads; ++u) {
      if (target[u] != nullptr) *reinterpret_cast<uint4*>(target[u]) = loaded[u];
    }
  }
}

// What one block attends: grid x is (row, kv head, chunk of `per_block` query heads), grid y the
// split; a split is whole tiles of the row's visible positions (the last may be short, later ones
// empty).
struct BlockWork {
  int row, kv_head, split;
  int first_head, heads;  // the block's query heads
  int begin, end;         // its positions
  std::size_t head_base;  // row · heads + first_head: its outputs' first head
  const int* pages;       // the row's sequence's page ids
};

__device__ __forceinline__ BlockWork block_work(const AttentionShape& shape, const StepRows& rows, int per_block,
                                                int splits) {
  BlockWork b;
  const int group = shape.heads / shape.kv_heads;
  const int chunks = (group + per_block - 1) / per_block;
  const int chunk = blockIdx.x % chunks;
  b.kv_head = (blockIdx.x / chunks) % shape.kv_heads;
  b.row = blockIdx.x / (chunks * shape.kv_heads);
  b.split = blockIdx.y;
  b.first_head = b.kv_head * group + chunk * per_block;
  b.heads = min(per_block, group - chunk * per_block);
  b.head_base = static_cast<std::size_t>(b.row) * shape.heads + b.first_head;
  const int visible = rows.position[b.row] + 1;
  const int per_split = (visible + splits * kTile - 1) / (splits * kTile) * kTile;
  b.begin = min(visible, b.split * per_split);
  b.end = min(visible, b.begin + per_split);
  b.pages = rows.pages + rows.page_offset[rows.sequence[b.row]];
  return b;
}

// The last block of a (row, kv head, head chunk) combines its splits' partial softmaxes, each
// [max, sum, unnormalised outputs] per head at scratch[((head_base + h)·splits + s)·(value_dim + 2)]:
// each split's weight exp(m_s − max) / Σ l_s·exp(m_s − max) per head (a warp per head, lanes over
// splits), then every output sums the splits' partials with all their loads in flight.
// split_weights: shared memory for heads × kScoreRow floats.
template <class W>
__device__ void merge_splits(const float* scratch, std::size_t head_base, int heads, int splits, int value_dim,
                             float* split_weights, W* out) {
  const int lane = threadIdx.x % 32;
  const int warps = blockDim.x / 32;
  const int stride = value_dim + 2;
  for (int h = threadIdx.x / 32; h < heads; h += warps) {
    const float* partials = scratch + (head_base + h) * splits * stride;
    float m[2], l[2];
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      const int s = lane + 32 * k;
      m[k] = s < splits ? __ldcg(partials + s * stride) : -INFINITY;
      l[k] = s < splits ? __ldcg(partials + s * stride + 1) : 0.0f;
    }
    const float best = warp_max(fmaxf(m[0], m[1]));
    float weight[2];
#pragma unroll
    for (int k = 0; k < 2; ++k) weight[k] = m[k] == -INFINITY ? 0.0f : __expf(m[k] - best);
    const float total = warp_sum(l[0] * weight[0] + l[1] * weight[1]);
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      if (lane + 32 * k < splits) split_weights[h * kScoreRow + lane + 32 * k] = weight[k] / total;
    }
  }
  __syncthreads();
  for (int o = threadIdx.x; o < heads * value_dim; o += blockDim.x) {
    const int h = o / value_dim;
    const int d = o % value_dim;
    const float* partials = scratch + (head_base + h) * splits * stride + 2 + d;
    float sum = 0;
#pragma unroll 8
    for (int s = 0; s < splits; ++s) sum += __ldcg(partials + s * stride) * split_weights[h * kScoreRow + s];
    out[(head_base + h) * value_dim + d] = from_float<W>(sum);
  }
}

template <class W, int M>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const float* q, AttentionShape shape, LayerCache<W> cache, StepRows rows, int splits,
                     TileLayout layout, float* scratch, unsigned* tickets, W* out, bool overlap_next) {
  wait_for_inputs();
  if (overlap_next) let_next_kernel_start();
  extern __shared__ __align__(16) unsigned char shared[];
  float* queries = reinterpret_cast<float*>(shared);                        // [heads][key_dim]
  W* keys = reinterpret_cast<W*>(shared + layout.query_bytes);              // [kTile][key_stride]
  W* values = reinterpret_cast<W*>(shared + layout.query_bytes + layout.key_bytes);
  float* scores = reinterpret_cast<float*>(shared + layout.query_bytes + layout.key_bytes + layout.value_bytes);
  float* running_max = scores + kMaxHeadsPerBlock * kScoreRow;  // [heads]
  float* running_sum = running_max + kMaxHeadsPerBlock;     // [heads]
  float* corrections = running_sum + kMaxHeadsPerBlock;     // [heads]: exp(old max − new max) of this tile

  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const BlockWork work = block_work(shape, rows, heads_per_block(shape), splits);
  const int heads_here = work.heads;
  const int begin = work.begin;
  const int end = work.end;

  constexpr int V = vector_width<W>();
  const int value_stride = layout.value_stride == 0 ? layout.key_stride : layout.value_stride;
  const W* value_tile = layout.value_stride == 0 ? keys : values;

  stage_row(queries, q + static_cast<std::size_t>(work.row) * shape.q_stride + work.first_head * shape.key_dim,
            nullptr, heads_here * shape.key_dim);
  __shared__ std::size_t slots[kTile];
  const TileSource<W> key_source{cache.keys, cache.key_row, work.kv_head * shape.key_dim, shape.key_dim / V, keys,
                                 layout.key_stride};
  // MLA's values are the front of its key rows: nothing more to stage.
  const TileSource<W> value_source{cache.values, cache.value_row, work.kv_head * shape.value_dim,
                                   layout.value_stride == 0 ? 0 : shape.value_dim / V, values, layout.value_stride};
  if (threadIdx.x < heads_here) {
    running_max[threadIdx.x] = -INFINITY;
    running_sum[threadIdx.x] = 0;
  }
  // This thread's outputs (see head_groups): dims d0 + 128·m of heads hg + G·k.
  const int thread = static_cast<int>(threadIdx.x);
  constexpr int K = kOutputsPerThread / M;
  const int G = head_groups(shape.value_dim);
  const int d0 = shape.value_dim <= kThreads ? thread % shape.value_dim : thread;
  const int hg = shape.value_dim <= kThreads ? thread / shape.value_dim : 0;
  const bool active = hg < G;
  float acc[M][K];
#pragma unroll
  for (int m = 0; m < M; ++m) {
#pragma unroll
    for (int k = 0; k < K; ++k) acc[m][k] = 0;
  }
  __syncthreads();

  constexpr int kHeadsPerWarp = kMaxHeadsPerBlock / kWarps;
  for (int first = begin; first < end; first += kTile) {
    const int n = min(kTile, end - first);
    if (thread < n) {
      const int position = first + thread;
      slots[thread] = static_cast<std::size_t>(work.pages[position / rows.page_size]) * rows.page_size +
                      position % rows.page_size;
    }
    __syncthreads();
    stage_tile(key_source, value_source, slots, n);
    __syncthreads();
    // Scores: lane = position; warp w scores heads w, w + 4, ... all in one pass over the key.
    float dots[kHeadsPerWarp] = {};
    if (lane < n) {
      const W* key = keys + lane * layout.key_stride;
#pragma unroll 2
      for (int c = 0; c < shape.key_dim; c += V) {
        const uint4 k = *reinterpret_cast<const uint4*>(key + c);
#pragma unroll
        for (int j = 0; j < kHeadsPerWarp; ++j) {
          const int h = warp + j * kWarps;
          if (h < heads_here) dots[j] += dot_key(queries + h * shape.key_dim + c, k, W{});
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kHeadsPerWarp; ++j) {
      const int h = warp + j * kWarps;
      if (h >= heads_here) break;
      const float score = lane < n ? dots[j] * shape.scale : -INFINITY;
      const float old_max = running_max[h];
      const float new_max = fmaxf(old_max, warp_max(score));
      const float p = lane < n ? __expf(score - new_max) : 0.0f;
      const float sum = warp_sum(p);
      scores[h * kScoreRow + lane] = p;
      __syncwarp();
      if (lane == 0) {
        const float correction = __expf(old_max - new_max);  // 0 on the first tile (old_max = -inf)
        corrections[h] = correction;
        running_max[h] = new_max;
        running_sum[h] = running_sum[h] * correction + sum;
      }
    }
    __syncthreads();
    // Outputs: a position's value loads serve all of this thread's heads.
    if (active) {
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const int h = hg + G * k;
        if (h >= heads_here) break;
#pragma unroll
        for (int m = 0; m < M; ++m) acc[m][k] *= corrections[h];
      }
#pragma unroll 4
      for (int j = 0; j < n; ++j) {
        const W* v = value_tile + j * value_stride;
        float value[M];
#pragma unroll
        for (int m = 0; m < M; ++m) value[m] = to_float(v[min(d0 + kThreads * m, shape.value_dim - 1)]);
#pragma unroll
        for (int k = 0; k < K; ++k) {
          const int h = hg + G * k;
          if (h >= heads_here) break;
          const float p = scores[h * kScoreRow + j];
#pragma unroll
          for (int m = 0; m < M; ++m) acc[m][k] += p * value[m];
        }
      }
    }
    __syncthreads();
  }

  // Calls write(h, d, value) for each of this thread's outputs.
  const auto for_each_output = [&](auto write) {
    if (!active) return;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int h = hg + G * k;
      if (h >= heads_here) break;
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const int d = d0 + kThreads * m;
        if (d < shape.value_dim) write(h, d, acc[m][k]);
      }
    }
  };

  const std::size_t head_base = work.head_base;
  if (splits == 1) {
    for_each_output([&](int h, int d, float value) {
      out[(head_base + h) * shape.value_dim + d] = from_float<W>(value / running_sum[h]);
    });
    return;
  }

  // This split's partial softmax: [max, sum, unnormalised outputs] per head.
  const int stride = shape.value_dim + 2;
  for_each_output([&](int h, int d, float value) {
    float* partial = scratch + ((head_base + h) * splits + work.split) * stride;
    if (d == 0) {
      partial[0] = running_max[h];
      partial[1] = running_sum[h];
    }
    partial[2 + d] = value;
  });
  if (!last_to_arrive(tickets + blockIdx.x, splits)) return;
  merge_splits(scratch, head_base, heads_here, splits, shape.value_dim, scores, out);
}


// ---- the tensor-core kernel ----
//
// Fragments of mma.m16n8k16 (bf16 in, float32 out), for lane (g, q) = (lane / 4, lane % 4):
//   A 16×16: a0 = A[g][2q, 2q+1], a1 = A[g+8][2q, 2q+1], a2 = A[g][2q+8, 2q+9], a3 = A[g+8][2q+8, 2q+9]
//   B 16×8:  b0 = B[2q, 2q+1][g], b1 = B[2q+8, 2q+9][g]
//   C 16×8:  c0, c1 = C[g][2q, 2q+1]; c2, c3 = C[g+8][2q, 2q+1]
// Scores: A = queries (heads × dims), B = keys (dims × positions). A dot product may take its dims
// in any order, so k-steps 2u and 2u+1 run over dims 32u..32u+31 in the order that gives lane (g, q)
// dims 32u + 8q .. +7 of its position's key in one 16-byte load: b0, b1 of step 2u, then of 2u+1.
// The queries' fragments take the same order.
// Outputs: A = probabilities (heads × positions: the scores' C fragments, FlashAttention-2's
// reuse), B = values (positions × dims). A 16-byte load gives lane (g, q) dims 32u + 8q .. +7 of
// position g: four 8×8 blocks in A layout whose columns are dims permuted, and movmatrix transposes
// each into a B fragment. The output dims come out in the same order: lane (g, q) holds dims
// 32u + 8q .. +7 of heads g and g + 8, over the four n-tiles 4u .. 4u + 3.
constexpr int kTcWarps = 8;
constexpr int kTcThreads = 32 * kTcWarps;
constexpr int kTcHeads = 16;  // query heads per block: the mma's M
constexpr float kLog2e = 1.4426950408889634f;

bool uses_tensor_cores(const AttentionShape& shape) {
  return shape.key_dim == shape.value_dim && (shape.key_dim == 64 || shape.key_dim == 128);
}

__device__ __forceinline__ void mma_bf16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned transposed(unsigned x) {
  unsigned y;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(y) : "r"(x));
  return y;
}

__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&v);
}

// Shared memory: per warp its heads' running max and sum, then its unnormalised outputs.
std::size_t tc_shared_bytes(const AttentionShape& shape) {
  const int heads = std::min(shape.heads / shape.kv_heads, kTcHeads);
  const std::size_t merge = 2 * kTcWarps * kTcHeads + static_cast<std::size_t>(kTcWarps) * heads * shape.value_dim;
  return std::max<std::size_t>(merge, static_cast<std::size_t>(kTcHeads) * kScoreRow) * sizeof(float);
}

template <int D>
__global__ void __launch_bounds__(kTcThreads, 1)
    attention_mma_kernel(const float* q, AttentionShape shape, LayerCache<bf16> cache, StepRows rows, int splits,
                         float* scratch, unsigned* tickets, bf16* out, bool overlap_next) {
  constexpr int Groups = D / 32;  // 32-dim groups: one 16-byte load per lane and position
  constexpr int NTiles = D / 8;   // 8-dim tiles of the output product
  extern __shared__ __align__(16) float merged[];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int g = lane / 4;
  const int quad = lane % 4;
  const BlockWork work = block_work(shape, rows, kTcHeads, splits);  // the step's metadata: uploaded before it
  const int heads_here = work.heads;
  const int begin = work.begin;
  const int end = work.end;
  const bf16* keys = cache.keys + work.kv_head * D;
  const bf16* values = cache.values + work.kv_head * D;

  // A tile's keys and values: positions tile + 8t + g (past the end: the last position, masked below).
  uint4 key[4][Groups];
  uint4 value[4][Groups];
  const auto load_tile = [&](int tile, bool only_newest) {
#pragma unroll
    for (int t = 0; t < 4; ++t) {
      const int position = min(tile + 8 * t + g, end - 1);
      if (only_newest && position != rows.position[work.row]) continue;
      const std::size_t slot =
          static_cast<std::size_t>(work.pages[position / rows.page_size]) * rows.page_size + position % rows.page_size;
#pragma unroll
      for (int u = 0; u < Groups; ++u) {
        key[t][u] = *reinterpret_cast<const uint4*>(keys + slot * cache.key_row + 32 * u + 8 * quad);
        value[t][u] = *reinterpret_cast<const uint4*>(values + slot * cache.value_row + 32 * u + 8 * quad);
      }
    }
  };
  // In a decode step only the row's own position is written by the kernel before this one: the
  // warp's first tile is requested before waiting for it, and that position read again after.
  const int first_tile = begin + warp * kTile;
  const bool preloaded = rows.one_row_per_sequence && first_tile < end;
  if (preloaded) load_tile(first_tile, false);
  wait_for_inputs();
  if (overlap_next) let_next_kernel_start();
  if (preloaded) load_tile(first_tile, true);

  // The queries' A fragments, heads g and g + 8 (zero past the block's heads).
  unsigned qa[2 * Groups][4];
  const float* q_row =
      q + static_cast<std::size_t>(work.row) * shape.q_stride + static_cast<std::size_t>(work.first_head) * D;
#pragma unroll
  for (int u = 0; u < Groups; ++u) {
    float lo[8] = {}, hi[8] = {};
    const int d = 32 * u + 8 * quad;
    if (g < heads_here) {
      *reinterpret_cast<float4*>(lo) = *reinterpret_cast<const float4*>(q_row + g * D + d);
      *reinterpret_cast<float4*>(lo + 4) = *reinterpret_cast<const float4*>(q_row + g * D + d + 4);
    }
    if (g + 8 < heads_here) {
      *reinterpret_cast<float4*>(hi) = *reinterpret_cast<const float4*>(q_row + (g + 8) * D + d);
      *reinterpret_cast<float4*>(hi + 4) = *reinterpret_cast<const float4*>(q_row + (g + 8) * D + d + 4);
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      unsigned(&a)[4] = qa[2 * u + half];
      a[0] = pack_bf16(lo[4 * half], lo[4 * half + 1]);
      a[1] = pack_bf16(hi[4 * half], hi[4 * half + 1]);
      a[2] = pack_bf16(lo[4 * half + 2], lo[4 * half + 3]);
      a[3] = pack_bf16(hi[4 * half + 2], hi[4 * half + 3]);
    }
  }

  const float log2_scale = shape.scale * kLog2e;  // scores in log2 units: exp2 below
  float acc[NTiles][4] = {};
  float running_max[2] = {-INFINITY, -INFINITY};  // heads g, g + 8
  float running_sum[2] = {0, 0};                  // this lane's share; the quad's sum at the end
  for (int tile = first_tile; tile < end; tile += kTcWarps * kTile) {
    if (!preloaded || tile != first_tile) load_tile(tile, false);
    float score[4][4] = {};
#pragma unroll
    for (int t = 0; t < 4; ++t) {
#pragma unroll
      for (int u = 0; u < Groups; ++u) {
        mma_bf16(score[t], qa[2 * u], key[t][u].x, key[t][u].y);
        mma_bf16(score[t], qa[2 * u + 1], key[t][u].z, key[t][u].w);
      }
    }
    // Online softmax of heads g and g + 8 over the tile's positions tile + 8t + 2·quad + e.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int t = 0; t < 4; ++t) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool valid = tile + 8 * t + 2 * quad + e < end;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float& x = score[t][2 * r + e];
          x = valid ? x * log2_scale : -INFINITY;
          tile_max[r] = fmaxf(tile_max[r], x);
        }
      }
    }
    float correction[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float new_max = fmaxf(running_max[r], tile_max[r]);  // finite: the tile has a position
      correction[r] = exp2f(running_max[r] - new_max);           // 0 on the first tile
      running_max[r] = new_max;
      running_sum[r] *= correction[r];
    }
#pragma unroll
    for (int t = 0; t < 4; ++t) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        score[t][i] = exp2f(score[t][i] - running_max[i / 2]);
        running_sum[i / 2] += score[t][i];
      }
    }
#pragma unroll
    for (int n = 0; n < NTiles; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[n][i] *= correction[i / 2];
    }
    // Outputs += probabilities · values, 16 positions per k-step: rows tile + 16s + g (slot 2s)
    // and tile + 16s + 8 + g (slot 2s + 1).
#pragma unroll
    for (int s = 0; s < 2; ++s) {
      const unsigned p[4] = {pack_bf16(score[2 * s][0], score[2 * s][1]), pack_bf16(score[2 * s][2], score[2 * s][3]),
                             pack_bf16(score[2 * s + 1][0], score[2 * s + 1][1]),
                             pack_bf16(score[2 * s + 1][2], score[2 * s + 1][3])};
#pragma unroll
      for (int u = 0; u < Groups; ++u) {
        const unsigned* upper = reinterpret_cast<const unsigned*>(&value[2 * s][u]);
        const unsigned* lower = reinterpret_cast<const unsigned*>(&value[2 * s + 1][u]);
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_bf16(acc[4 * u + j], p, transposed(upper[j]), transposed(lower[j]));
      }
    }
  }

  // The warps' softmaxes merged through shared memory.
  float* warp_max = merged;                             // [kTcWarps][kTcHeads]
  float* warp_sum = merged + kTcWarps * kTcHeads;       // [kTcWarps][kTcHeads]
  float* warp_out = merged + 2 * kTcWarps * kTcHeads;   // [kTcWarps][heads_here][D]
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    running_sum[r] += __shfl_xor_sync(0xffffffffu, running_sum[r], 1);
    running_sum[r] += __shfl_xor_sync(0xffffffffu, running_sum[r], 2);
    const int h = g + 8 * r;
    if (h >= heads_here) continue;
    if (quad == 0) {
      warp_max[warp * kTcHeads + h] = running_max[r];
      warp_sum[warp * kTcHeads + h] = running_sum[r];
    }
    float* o = warp_out + (warp * heads_here + h) * D;
#pragma unroll
    for (int u = 0; u < Groups; ++u) {
#pragma unroll
      for (int j = 0; j < 4; ++j)
        *reinterpret_cast<float2*>(o + 32 * u + 8 * quad + 2 * j) = make_float2(acc[4 * u + j][2 * r], acc[4 * u + j][2 * r + 1]);
    }
  }
  __syncthreads();
  const std::size_t head_base = work.head_base;
  for (int i = threadIdx.x; i < heads_here * D; i += kTcThreads) {
    const int h = i / D;
    const int d = i % D;
    float best = -INFINITY;
#pragma unroll
    for (int w = 0; w < kTcWarps; ++w) best = fmaxf(best, warp_max[w * kTcHeads + h]);
    float sum = 0, value = 0;
#pragma unroll
    for (int w = 0; w < kTcWarps; ++w) {
      const float m = warp_max[w * kTcHeads + h];
      const float weight = m == -INFINITY ? 0.0f : exp2f(m - best);
      sum += weight * warp_sum[w * kTcHeads + h];
      value += weight * warp_out[(w * heads_here + h) * D + d];
    }
    if (splits == 1) {
      out[(head_base + h) * D + d] = __float2bfloat16(value / sum);
    } else {  // this split's partial softmax, max in natural-log units as merge_splits takes it
      float* partial = scratch + ((head_base + h) * splits + work.split) * (D + 2);
      if (d == 0) {
        partial[0] = best == -INFINITY ? -INFINITY : best / kLog2e;
        partial[1] = sum;
      }
      partial[2 + d] = value;
    }
  }
  if (splits == 1 || !last_to_arrive(tickets + blockIdx.x, splits)) return;
  merge_splits(scratch, head_base, heads_here, splits, D, merged, out);
}
}  // namespace

std::size_t attention_scratch_floats(const AttentionShape& shape, int rows, int splits) {
  return splits <= 1 ? 0 : static_cast<std::size_t>(rows) * shape.heads * splits * (shape.value_dim + 2);
}

std::size_t attention_tickets(const AttentionShape& shape, int rows) {
  return static_cast<std::size_t>(rows) * shape.kv_heads * head_chunks(shape);
}

template <class W>
int attention_splits(const AttentionShape& shape, int rows, int max_positions, int multiprocessors,
                     std::size_t scratch_floats) {
  const int per_split = rows * shape.kv_heads * head_chunks(shape);
  int splits = 1;
  if (std::is_same_v<W, bf16> && uses_tensor_cores(shape)) {
    // One block per multiprocessor, and enough positions per split for a tile per warp: a split
    // merge costs more than a second tile.
    splits = std::max(1, (multiprocessors + per_split - 1) / per_split);
    splits = std::min(splits, (max_positions + kTcWarps * kTile - 1) / (kTcWarps * kTile));
  } else {
    // Two blocks per multiprocessor, whole tiles of positions per split.
    splits = std::max(1, (2 * multiprocessors + per_split - 1) / per_split);
    splits = std::min(splits, max_positions / kTile);
  }
  splits = std::clamp(splits, 1, kMaxSplits);
  while (splits > 1 && attention_scratch_floats(shape, rows, splits) > scratch_floats) --splits;
  return splits;
}

template <class W>
void paged_attention(const float* q, const AttentionShape& shape, LayerCache<W> cache, const StepRows& rows, int splits,
                     float* scratch, unsigned* tickets, W* out, cudaStream_t stream) {
  if (rows.rows == 0) return;
  if (shape.kv_heads <= 0 || shape.heads % shape.kv_heads != 0) {
    throw std::invalid_argument("paged_attention: heads must be a multiple of kv_heads");
  }
  constexpr int V = vector_width<W>();
  if (shape.key_dim % V != 0 || shape.value_dim % V != 0) {
    throw std::invalid_argument("paged_attention: head dims must be whole 16-byte vectors");
  }
  if (shape.value_dim > kMaxValueDim) {
    throw std::invalid_argument("paged_attention: value heads above 512 dims are not supported");
  }
  if (splits < 1 || splits > kMaxSplits) throw std::invalid_argument("paged_attention: 1 to 64 splits");
  const bool values_in_keys = cache.values == cache.keys;
  if constexpr (std::is_same_v<W, bf16>) {
    if (uses_tensor_cores(shape) && !values_in_keys) {
      const dim3 grid(static_cast<unsigned>(attention_tickets(shape, rows.rows)), static_cast<unsigned>(splits));
      const std::size_t bytes = tc_shared_bytes(shape);
      const auto run = [&](auto kernel) {
        RBENCH_CUDA_CHECK(
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
        launch(kernel, grid, kTcThreads, bytes, stream, q, shape, cache, rows, splits, scratch, tickets, out,
               overlaps_next_kernel(rows.rows));
      };
      if (shape.key_dim == 128) {
        run(attention_mma_kernel<128>);
      } else {
        run(attention_mma_kernel<64>);
      }
      RBENCH_CUDA_CHECK_LAUNCH();
      return;
    }
  }
  const TileLayout layout = tile_layout<W>(shape, values_in_keys);
  const dim3 grid(static_cast<unsigned>(attention_tickets(shape, rows.rows)), static_cast<unsigned>(splits));
  const auto run = [&](auto kernel) {
    if (layout.bytes() > 48 * 1024) {
      RBENCH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(layout.bytes())));
    }
    launch(kernel, grid, kThreads, layout.bytes(), stream, q, shape, cache, rows, splits, layout, scratch, tickets, out,
           overlaps_next_kernel(rows.rows));
  };
  switch (dims_per_thread(shape.value_dim)) {
    case 1:
      run(attention_kernel<W, 1>);
      break;
    case 2:
      run(attention_kernel<W, 2>);
      break;
    default:
      run(attention_kernel<W, 4>);
  }
  RBENCH_CUDA_CHECK_LAUNCH();
}

template int attention_splits<float>(const AttentionShape&, int, int, int, std::size_t);
template int attention_splits<bf16>(const AttentionShape&, int, int, int, std::size_t);
template void paged_attention<float>(const float*, const AttentionShape&, LayerCache<float>, const StepRows&, int,
                                     float*, unsigned*, float*, cudaStream_t);
template void paged_attention<bf16>(const float*, const AttentionShape&, LayerCache<bf16>, const StepRows&, int, float*,
                                    unsigned*, bf16*, cudaStream_t);

}  // namespace rbench::engine::cuda
