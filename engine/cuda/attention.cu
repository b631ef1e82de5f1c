// Causal attention over the paged KV cache, for prefill rows and decode rows alike.
//
// A block takes one token row, one kv head and up to HC of the query heads that read it (so a key
// and value row is read once for the whole group), over one split of the row's visible positions.
// Each of its 4 warps walks every 4th position with an online softmax: lanes hold D dims of the
// queries, the key and the value (dims lane, lane + 32, ...), and a warp-wide sum gives each score.
// The warps' partial softmaxes are merged in shared memory; with several splits (flash-decoding:
// a single decode row still spreads over the GPU) a second kernel merges the splits.
#include <algorithm>

#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxSplits = 64;

struct Partial {
  float m;  // largest score seen
  float l;  // Σ exp(score − m)
};

template <int D>
constexpr int heads_per_block() {
  return D <= 4 ? 8 : (D <= 8 ? 4 : 2);
}

template <class W, int D>
__global__ void __launch_bounds__(kWarps * 32)
    attention_kernel(const float* q, AttentionShape shape, LayerCache<W> cache, StepRows rows, int splits,
                     float* scratch, W* out) {
  wait_for_inputs();
  constexpr int HC = heads_per_block<D>();
  constexpr int kStride = 2 + 32 * D;  // floats of one warp's partial for one head: m, l, acc
  __shared__ float merged[kWarps][HC][kStride];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int group = shape.heads / shape.kv_heads;
  const int chunks = (group + HC - 1) / HC;
  const int chunk = blockIdx.x % chunks;
  const int kv_head = (blockIdx.x / chunks) % shape.kv_heads;
  const int row = blockIdx.x / (chunks * shape.kv_heads);
  const int split = blockIdx.y;
  const int first_head = kv_head * group + chunk * HC;
  const int heads_here = min(HC, group - chunk * HC);

  const int sequence = rows.sequence[row];
  const int visible = rows.position[row] + 1;
  const int per_split = (visible + splits - 1) / splits;
  const int begin = split * per_split;
  const int end = min(visible, begin + per_split);

  float query[HC][D];
#pragma unroll
  for (int h = 0; h < HC; ++h) {
#pragma unroll
    for (int i = 0; i < D; ++i) {
      const int d = lane + 32 * i;
      query[h][i] = (h < heads_here && d < shape.key_dim)
                        ? q[static_cast<std::size_t>(row) * shape.q_stride + (first_head + h) * shape.key_dim + d]
                        : 0.0f;
    }
  }
  float m[HC];
  float l[HC];
  float acc[HC][D];
#pragma unroll
  for (int h = 0; h < HC; ++h) {
    m[h] = -INFINITY;
    l[h] = 0;
#pragma unroll
    for (int i = 0; i < D; ++i) acc[h][i] = 0;
  }

  // P positions per warp in flight: their page lookups and key and value loads are issued before
  // any of their scores, so the warp waits on memory once per P positions, not once per position.
  constexpr int P = D <= 4 ? 4 : (D <= 8 ? 2 : 1);
  const int* pages = rows.pages + rows.page_offset[sequence];
  for (int base = begin + warp; base < end; base += kWarps * P) {
    float k[P][D];
    float v[P][D];
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const int position = base + j * kWarps;
      if (position >= end) continue;
      const std::size_t slot =
          static_cast<std::size_t>(pages[position / rows.page_size]) * rows.page_size + position % rows.page_size;
      const W* key = cache.keys + slot * cache.key_row + static_cast<std::size_t>(kv_head) * shape.key_dim;
      const W* value = cache.values + slot * cache.value_row + static_cast<std::size_t>(kv_head) * shape.value_dim;
#pragma unroll
      for (int i = 0; i < D; ++i) {
        const int d = lane + 32 * i;
        k[j][i] = d < shape.key_dim ? to_float(key[d]) : 0.0f;
        v[j][i] = d < shape.value_dim ? to_float(value[d]) : 0.0f;
      }
    }
#pragma unroll
    for (int j = 0; j < P; ++j) {
      if (base + j * kWarps >= end) continue;
#pragma unroll
      for (int h = 0; h < HC; ++h) {
        if (h >= heads_here) continue;
        float dot = 0;
#pragma unroll
        for (int i = 0; i < D; ++i) dot += query[h][i] * k[j][i];
        const float score = warp_sum(dot) * shape.scale;
        const float m_new = fmaxf(m[h], score);
        const float correction = __expf(m[h] - m_new);
        const float weight = __expf(score - m_new);
        l[h] = l[h] * correction + weight;
#pragma unroll
        for (int i = 0; i < D; ++i) acc[h][i] = acc[h][i] * correction + weight * v[j][i];
        m[h] = m_new;
      }
    }
  }

#pragma unroll
  for (int h = 0; h < HC; ++h) {
    if (h >= heads_here) continue;
    if (lane == 0) {
      merged[warp][h][0] = m[h];
      merged[warp][h][1] = l[h];
    }
#pragma unroll
    for (int i = 0; i < D; ++i) merged[warp][h][2 + lane + 32 * i] = acc[h][i];
  }
  __syncthreads();

  for (int item = threadIdx.x; item < heads_here * shape.value_dim; item += blockDim.x) {
    const int h = item / shape.value_dim;
    const int d = item % shape.value_dim;
    float best = -INFINITY;
    for (int w = 0; w < kWarps; ++w) best = fmaxf(best, merged[w][h][0]);
    float total = 0;
    float sum = 0;
    if (best != -INFINITY) {
      for (int w = 0; w < kWarps; ++w) {
        const float scale = merged[w][h][0] == -INFINITY ? 0.0f : __expf(merged[w][h][0] - best);
        total += merged[w][h][1] * scale;
        sum += merged[w][h][2 + d] * scale;
      }
    }
    const int head = first_head + h;
    if (splits == 1) {
      out[(static_cast<std::size_t>(row) * shape.heads + head) * shape.value_dim + d] = from_float<W>(sum / total);
      continue;
    }
    float* partial =
        scratch + ((static_cast<std::size_t>(row) * shape.heads + head) * splits + split) * (shape.value_dim + 2);
    if (d == 0) {
      partial[0] = best;
      partial[1] = total;
    }
    partial[2 + d] = sum;
  }
}

// Block per (row, head): the splits' maxima and weights first, then every dim sums the splits'
// partial outputs with all their loads in flight.
template <class W>
__global__ void merge_splits_kernel(const float* __restrict__ scratch, AttentionShape shape, int splits, W* out) {
  wait_for_inputs();
  __shared__ float weight[kMaxSplits];
  __shared__ float reduce[32];
  const int row_head = blockIdx.x;  // row · heads + head
  const int stride = shape.value_dim + 2;
  const float* partials = scratch + static_cast<std::size_t>(row_head) * splits * stride;
  const bool mine = static_cast<int>(threadIdx.x) < splits;
  const float m = mine ? partials[threadIdx.x * stride] : -INFINITY;
  const float l = mine ? partials[threadIdx.x * stride + 1] : 0.0f;
  const float best = block_max(m, reduce);
  const float scale = m == -INFINITY ? 0.0f : __expf(m - best);
  if (mine) weight[threadIdx.x] = scale;
  const float total = block_sum(l * scale, reduce);
  for (int d = threadIdx.x; d < shape.value_dim; d += blockDim.x) {
    float sum = 0;
#pragma unroll 8
    for (int s = 0; s < splits; ++s) sum += partials[s * stride + 2 + d] * weight[s];
    out[static_cast<std::size_t>(row_head) * shape.value_dim + d] = from_float<W>(sum / total);
  }
}

int dims_per_lane(const AttentionShape& shape) {
  const int widest = std::max(shape.key_dim, shape.value_dim);
  for (int d : {1, 2, 4, 8, 20}) {
    if (widest <= 32 * d) return d;
  }
  throw std::invalid_argument("paged_attention: head dims above 640 are not supported");
}

int blocks_per_split(const AttentionShape& shape, int rows) {
  int heads_in_block = 0;
  switch (dims_per_lane(shape)) {
    case 1:
    case 2:
    case 4:
      heads_in_block = heads_per_block<4>();
      break;
    case 8:
      heads_in_block = heads_per_block<8>();
      break;
    default:
      heads_in_block = heads_per_block<20>();
  }
  const int group = shape.heads / shape.kv_heads;
  return rows * shape.kv_heads * ((group + heads_in_block - 1) / heads_in_block);
}

template <class W, int D>
void launch_attention(const float* q, const AttentionShape& shape, LayerCache<W> cache, const StepRows& rows,
                      int splits, float* scratch, W* out, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(blocks_per_split(shape, rows.rows)), static_cast<unsigned>(splits));
  launch(attention_kernel<W, D>, grid, kWarps * 32, 0, stream, q, shape, cache, rows, splits, scratch, out);
  RBENCH_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t attention_scratch_floats(const AttentionShape& shape, int rows, int splits) {
  return splits <= 1 ? 0 : static_cast<std::size_t>(rows) * shape.heads * splits * (shape.value_dim + 2);
}

int attention_splits(const AttentionShape& shape, int rows, int max_positions, int multiprocessors,
                     std::size_t scratch_floats) {
  // Eight blocks per multiprocessor (the score reductions need warps in flight to hide their
  // latency), at least 16 positions per split, and what the scratch holds.
  const int per_split = blocks_per_split(shape, rows);
  int splits = std::max(1, (8 * multiprocessors + per_split - 1) / per_split);
  splits = std::min({splits, std::max(1, max_positions / 16), kMaxSplits});
  while (splits > 1 && attention_scratch_floats(shape, rows, splits) > scratch_floats) --splits;
  return splits;
}

template <class W>
void paged_attention(const float* q, const AttentionShape& shape, LayerCache<W> cache, const StepRows& rows, int splits,
                     float* scratch, W* out, cudaStream_t stream) {
  if (rows.rows == 0) return;
  if (shape.kv_heads <= 0 || shape.heads % shape.kv_heads != 0) {
    throw std::invalid_argument("paged_attention: heads must be a multiple of kv_heads");
  }
  switch (dims_per_lane(shape)) {
    case 1:
      launch_attention<W, 1>(q, shape, cache, rows, splits, scratch, out, stream);
      break;
    case 2:
      launch_attention<W, 2>(q, shape, cache, rows, splits, scratch, out, stream);
      break;
    case 4:
      launch_attention<W, 4>(q, shape, cache, rows, splits, scratch, out, stream);
      break;
    case 8:
      launch_attention<W, 8>(q, shape, cache, rows, splits, scratch, out, stream);
      break;
    default:
      launch_attention<W, 20>(q, shape, cache, rows, splits, scratch, out, stream);
  }
  if (splits > 1) {
    launch(merge_splits_kernel<W>, rows.rows * shape.heads, 128, 0, stream, scratch, shape, splits, out);
    RBENCH_CUDA_CHECK_LAUNCH();
  }
}

template void paged_attention<float>(const float*, const AttentionShape&, LayerCache<float>, const StepRows&, int,
                                     float*, float*, cudaStream_t);
template void paged_attention<bf16>(const float*, const AttentionShape&, LayerCache<bf16>, const StepRows&, int, float*,
                                    bf16*, cudaStream_t);

}  // namespace rbench::engine::cuda
