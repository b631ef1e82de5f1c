// RoPE angles per step, and the kernels that turn a projection's output into attention inputs:
// bias, q/k norms, clipping and rotation, then the new keys and values written into the paged cache.
// prepare_gqa spreads a row's heads over warps; prepare_mla takes one block per row, staged in shared memory.
#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr unsigned kThreads = 256;

__global__ void rope_angles_kernel(const double* inv_freq, int pairs, double attention_factor, StepRows rows,
                                   float* cos_out, float* sin_out) {
  wait_for_inputs();
  const int row = blockIdx.x;
  const double position = static_cast<double>(rows.position[row]);
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    double s = 0;
    double c = 0;
    sincos(position * inv_freq[i], &s, &c);
    cos_out[static_cast<std::size_t>(row) * pairs + i] = static_cast<float>(c * attention_factor);
    sin_out[static_cast<std::size_t>(row) * pairs + i] = static_cast<float>(s * attention_factor);
  }
}

// Pair i of a rotated segment: NeoX's halves (i, i + pairs) or adjacent dims (2i, 2i + 1).
__device__ __forceinline__ int2 rope_pair(int i, int pairs, cpu::RopeLayout layout) {
  return layout == cpu::RopeLayout::half_split ? make_int2(i, i + pairs) : make_int2(2 * i, 2 * i + 1);
}

// Rotates `segments` segments of 2·pairs floats, `stride` apart, in place; all threads take part.
__device__ void rotate_segments(float* base, int segments, int stride, int pairs, const float* cos, const float* sin,
                                cpu::RopeLayout layout) {
  for (int item = threadIdx.x; item < segments * pairs; item += blockDim.x) {
    const int segment = item / pairs;
    const int i = item % pairs;
    const int2 pair = rope_pair(i, pairs, layout);
    float* x = base + segment * stride;
    const float a = x[pair.x];
    const float b = x[pair.y];
    x[pair.x] = a * cos[i] - b * sin[i];
    x[pair.y] = b * cos[i] + a * sin[i];
  }
}

// RMSNorm of one contiguous span with the whole block.
__device__ void norm_span(float* x, int width, const float* weight, float eps, float* scratch) {
  float sum = 0;
  for (int i = threadIdx.x; i < width; i += blockDim.x) sum += x[i] * x[i];
  const float inverse_rms = rsqrtf(block_sum(sum, scratch) / static_cast<float>(width) + eps);
  for (int i = threadIdx.x; i < width; i += blockDim.x) x[i] = x[i] * inverse_rms * weight[i];
  __syncthreads();
}

// One warp per head of a row's fused projection: q heads, then k heads, then v heads; a block
// takes kHeadsPerBlock of them, so a row's heads spread over several blocks. Per head: bias, q/k
// norm, clipping, RoPE (q, k), and the destination (rotated queries, or the cache). A norm over the
// whole q or k projection (OLMoE) needs the row's sum of squares first: every block computes it.
constexpr int kHeadsPerBlock = 8;

template <class W>
__global__ void __launch_bounds__(kHeadsPerBlock * 32)
    prepare_gqa_kernel(const float* qkv, GqaInputs in, const float* cos_table, const float* sin_table, int pairs,
                       StepRows rows, float* q_out, LayerCache<W> cache, bool overlap_next) {
  wait_for_inputs();
  if (overlap_next) let_next_kernel_start();
  extern __shared__ float head_values[];  // [kHeadsPerBlock][head_dim]
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int d = in.head_dim;
  const int q_width = in.heads * d;
  const int kv_width = in.kv_heads * d;
  const int width = q_width + 2 * kv_width;
  const float* source = qkv + static_cast<std::size_t>(row) * width;
  const auto biased = [&](int i) { return source[i] + (in.qkv_bias != nullptr ? in.qkv_bias[i] : 0.0f); };

  float span_scale[2] = {1.0f, 1.0f};  // whole-projection norms of q and k
  if (in.q_norm != nullptr && !in.norm_per_head) {
    const int spans[3] = {0, q_width, q_width + kv_width};
    for (int part = 0; part < 2; ++part) {
      float sum = 0;
      for (int i = spans[part] + threadIdx.x; i < spans[part + 1]; i += blockDim.x) sum += biased(i) * biased(i);
      const float n = static_cast<float>(spans[part + 1] - spans[part]);
      span_scale[part] = rsqrtf(block_sum(sum, scratch) / n + in.norm_eps);
    }
  }

  const int head = blockIdx.y * kHeadsPerBlock + warp;
  if (head >= in.heads + 2 * in.kv_heads) return;
  const int kind = head < in.heads ? 0 : (head < in.heads + in.kv_heads ? 1 : 2);  // q, k, v
  float* x = head_values + warp * d;
  // The head's loads all issued before any is used: up to 256 dims in one round trip.
  constexpr int kPerLane = 8;
  float squares = 0;
  for (int base = 0; base < d; base += 32 * kPerLane) {
    float loaded[kPerLane];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = base + lane + 32 * j;
      loaded[j] = i < d ? biased(head * d + i) : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = base + lane + 32 * j;
      if (i < d) x[i] = loaded[j];
      squares += loaded[j] * loaded[j];
    }
  }
  if (kind < 2 && in.q_norm != nullptr) {
    const float* weight = kind == 0 ? in.q_norm : in.k_norm;
    const int first = kind == 0 ? head * d : (head - in.heads) * d;  // this head's place in its projection
    const float scale = in.norm_per_head ? rsqrtf(warp_sum(squares) / static_cast<float>(d) + in.norm_eps)
                                         : span_scale[kind];
    for (int i = lane; i < d; i += 32) x[i] *= scale * weight[in.norm_per_head ? i : first + i];
  }
  if (in.clip > 0) {
    for (int i = lane; i < d; i += 32) x[i] = fminf(fmaxf(x[i], -in.clip), in.clip);
  }
  __syncwarp();
  if (kind < 2) {
    const float* cos = cos_table + static_cast<std::size_t>(row) * pairs;
    const float* sin = sin_table + static_cast<std::size_t>(row) * pairs;
    for (int i = lane; i < pairs; i += 32) {  // NeoX halves (i, i + pairs)
      const float a = x[i];
      const float b = x[i + pairs];
      x[i] = a * cos[i] - b * sin[i];
      x[i + pairs] = b * cos[i] + a * sin[i];
    }
    __syncwarp();
  }
  if (kind == 0) {
    for (int i = lane; i < d; i += 32) q_out[static_cast<std::size_t>(row) * q_width + head * d + i] = x[i];
    return;
  }
  const std::size_t slot = cache_row(rows, rows.sequence[row], rows.position[row]);
  W* target = kind == 1 ? cache.keys + slot * cache.key_row + (head - in.heads) * d
                        : cache.values + slot * cache.value_row + (head - in.heads - in.kv_heads) * d;
  for (int i = lane; i < d; i += 32) target[i] = from_float<W>(x[i]);
}

template <class W>
__global__ void prepare_mla_kernel(const float* q_in, const float* kv_in, MlaInputs in, const float* cos_table,
                                   const float* sin_table, StepRows rows, W* q_nope, float* q_attention,
                                   LayerCache<W> cache) {
  wait_for_inputs();
  extern __shared__ float shared[];
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const int q_head = in.nope_dim + in.rope_dim;
  const int q_width = in.heads * q_head;
  const int kv_width = in.latent_dim + in.rope_dim;
  float* q = shared;
  float* kv = shared + q_width;
  stage_row(q, q_in + static_cast<std::size_t>(row) * q_width, nullptr, q_width);
  stage_row(kv, kv_in + static_cast<std::size_t>(row) * kv_width, nullptr, kv_width);
  __syncthreads();
  norm_span(kv, in.latent_dim, in.latent_norm, in.norm_eps, scratch);
  const int pairs = in.rope_dim / 2;
  const float* cos = cos_table + static_cast<std::size_t>(row) * pairs;
  const float* sin = sin_table + static_cast<std::size_t>(row) * pairs;
  rotate_segments(kv + in.latent_dim, 1, 0, pairs, cos, sin, in.layout);
  rotate_segments(q + in.nope_dim, in.heads, q_head, pairs, cos, sin, in.layout);
  __syncthreads();
  const std::size_t slot = cache_row(rows, rows.sequence[row], rows.position[row]);
  for (int i = threadIdx.x; i < kv_width; i += blockDim.x) cache.keys[slot * cache.key_row + i] = from_float<W>(kv[i]);
  const int attention_head = in.latent_dim + in.rope_dim;
  for (int i = threadIdx.x; i < in.heads * in.nope_dim; i += blockDim.x) {
    const int h = i / in.nope_dim;
    q_nope[static_cast<std::size_t>(row) * in.heads * in.nope_dim + i] = from_float<W>(q[h * q_head + i % in.nope_dim]);
  }
  for (int i = threadIdx.x; i < in.heads * in.rope_dim; i += blockDim.x) {
    const int h = i / in.rope_dim;
    const int d = i % in.rope_dim;
    q_attention[(static_cast<std::size_t>(row) * in.heads + h) * attention_head + in.latent_dim + d] =
        q[h * q_head + in.nope_dim + d];
  }
}

// Shared memory above 48 KB must be asked for per kernel.
template <class Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes) {
  if (bytes > 48 * 1024) {
    RBENCH_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  }
}

}  // namespace

void rope_angles(const double* inv_freq, int pairs, double attention_factor, const StepRows& rows, float* cos,
                 float* sin, cudaStream_t stream) {
  if (rows.rows == 0) return;
  launch(rope_angles_kernel, rows.rows, 64, 0, stream, inv_freq, pairs, attention_factor, rows, cos, sin);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void prepare_gqa(const float* qkv, const GqaInputs& in, const float* cos, const float* sin, int pairs,
                 const StepRows& rows, float* q, LayerCache<W> cache, cudaStream_t stream) {
  if (rows.rows == 0) return;
  if (2 * pairs > in.head_dim) throw std::invalid_argument("prepare_gqa: more rotary dims than a head has");
  const std::size_t bytes = static_cast<std::size_t>(kHeadsPerBlock) * in.head_dim * sizeof(float);
  allow_shared_memory(prepare_gqa_kernel<W>, bytes);
  const dim3 grid(rows.rows, (in.heads + 2 * in.kv_heads + kHeadsPerBlock - 1) / kHeadsPerBlock);
  launch(prepare_gqa_kernel<W>, grid, kHeadsPerBlock * 32, bytes, stream, qkv, in, cos, sin, pairs, rows, q, cache,
         overlaps_next_kernel(rows.rows));
  RBENCH_CUDA_CHECK_LAUNCH();
}

template <class W>
void prepare_mla(const float* q, const float* kv, const MlaInputs& in, const float* cos, const float* sin,
                 const StepRows& rows, W* q_nope, float* q_attention, LayerCache<W> cache, cudaStream_t stream) {
  if (rows.rows == 0) return;
  const std::size_t bytes =
      static_cast<std::size_t>(in.heads * (in.nope_dim + in.rope_dim) + in.latent_dim + in.rope_dim) * sizeof(float);
  allow_shared_memory(prepare_mla_kernel<W>, bytes);
  launch(prepare_mla_kernel<W>, rows.rows, kThreads, bytes, stream, q, kv, in, cos, sin, rows, q_nope, q_attention,
         cache);
  RBENCH_CUDA_CHECK_LAUNCH();
}

template void prepare_gqa<float>(const float*, const GqaInputs&, const float*, const float*, int, const StepRows&,
                                 float*, LayerCache<float>, cudaStream_t);
template void prepare_gqa<bf16>(const float*, const GqaInputs&, const float*, const float*, int, const StepRows&,
                                float*, LayerCache<bf16>, cudaStream_t);
template void prepare_mla<float>(const float*, const float*, const MlaInputs&, const float*, const float*,
                                 const StepRows&, float*, float*, LayerCache<float>, cudaStream_t);
template void prepare_mla<bf16>(const float*, const float*, const MlaInputs&, const float*, const float*,
                                const StepRows&, bf16*, float*, LayerCache<bf16>, cudaStream_t);

}  // namespace rbench::engine::cuda
