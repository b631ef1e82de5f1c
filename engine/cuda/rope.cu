// RoPE angles per step, and the kernels that turn a projection's output into attention inputs:
// bias, q/k norms, clipping and rotation, then the new keys and values written into the paged cache.
// One block per token row; the row is staged in shared memory.
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

// RMSNorm of `segments` pieces of `width` floats, `stride` apart, in place: one warp per piece.
__device__ void norm_segments(float* base, int segments, int stride, int width, const float* weight, float eps) {
  const int lane = threadIdx.x % 32;
  const int warps = blockDim.x / 32;
  for (int segment = threadIdx.x / 32; segment < segments; segment += warps) {
    float* x = base + segment * stride;
    float sum = 0;
    for (int i = lane; i < width; i += 32) sum += x[i] * x[i];
    const float inverse_rms = rsqrtf(warp_sum(sum) / static_cast<float>(width) + eps);
    for (int i = lane; i < width; i += 32) x[i] = x[i] * inverse_rms * weight[i];
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

template <class W>
__global__ void prepare_gqa_kernel(const float* qkv, GqaInputs in, const float* cos_table, const float* sin_table,
                                   int pairs, StepRows rows, float* q_out, LayerCache<W> cache) {
  wait_for_inputs();
  extern __shared__ float row_values[];
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const int q_width = in.heads * in.head_dim;
  const int kv_width = in.kv_heads * in.head_dim;
  const int width = q_width + 2 * kv_width;
  stage_row(row_values, qkv + static_cast<std::size_t>(row) * width, in.qkv_bias, width);
  __syncthreads();
  float* q = row_values;
  float* k = row_values + q_width;
  if (in.q_norm != nullptr) {
    if (in.norm_per_head) {
      norm_segments(q, in.heads, in.head_dim, in.head_dim, in.q_norm, in.norm_eps);
      norm_segments(k, in.kv_heads, in.head_dim, in.head_dim, in.k_norm, in.norm_eps);
      __syncthreads();
    } else {
      norm_span(q, q_width, in.q_norm, in.norm_eps, scratch);
      norm_span(k, kv_width, in.k_norm, in.norm_eps, scratch);
    }
  }
  if (in.clip > 0) {
    for (int i = threadIdx.x; i < width; i += blockDim.x)
      row_values[i] = fminf(fmaxf(row_values[i], -in.clip), in.clip);
    __syncthreads();
  }
  const float* cos = cos_table + static_cast<std::size_t>(row) * pairs;
  const float* sin = sin_table + static_cast<std::size_t>(row) * pairs;
  rotate_segments(q, in.heads + in.kv_heads, in.head_dim, pairs, cos, sin, cpu::RopeLayout::half_split);
  __syncthreads();
  for (int i = threadIdx.x; i < q_width; i += blockDim.x) q_out[static_cast<std::size_t>(row) * q_width + i] = q[i];
  const std::size_t slot = cache_row(rows, rows.sequence[row], rows.position[row]);
  for (int i = threadIdx.x; i < kv_width; i += blockDim.x) {
    cache.keys[slot * cache.key_row + i] = from_float<W>(k[i]);
    cache.values[slot * cache.value_row + i] = from_float<W>(k[kv_width + i]);
  }
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
  const std::size_t bytes = static_cast<std::size_t>(in.heads + 2 * in.kv_heads) * in.head_dim * sizeof(float);
  allow_shared_memory(prepare_gqa_kernel<W>, bytes);
  launch(prepare_gqa_kernel<W>, rows.rows, kThreads, bytes, stream, qkv, in, cos, sin, pairs, rows, q, cache);
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
