// Next-token sampling on the GPU, one block per sequence. Greedy is an argmax. Otherwise the
// temperature softmax is cut the way engine/runtime/sampling.cpp cuts it (top-k, then min-p, then
// the smallest set reaching top-p), each cut found as a probability threshold by binary search over
// the bits of a float, and one token is drawn from what is left by an exponential race: the argmax
// of p_i / E_i with E_i ~ Exp(1) is a draw from p. E_i hashes (seed, draw, i), so a sequence's
// draws do not depend on the batch it shares.
#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kThreads = 1024;

struct Best {
  float value;
  int index;
};

__device__ __forceinline__ Best better(Best a, Best b) {
  return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
}

__device__ Best block_argmax(Best mine, float* values, int* indices) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const Best other{__shfl_xor_sync(0xffffffffu, mine.value, offset),
                     __shfl_xor_sync(0xffffffffu, mine.index, offset)};
    mine = better(mine, other);
  }
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) {
    values[warp] = mine.value;
    indices[warp] = mine.index;
  }
  __syncthreads();
  Best result{-INFINITY, INT_MAX};
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) result = better(result, Best{values[w], indices[w]});
  return result;
}

// Probability relative to the most likely token: exp((logit − max) / temperature), in (0, 1].
__device__ __forceinline__ float relative_probability(float logit, float max_logit, float temperature) {
  return __expf((logit - max_logit) / temperature);
}

// Largest x in [low, 1] (as float bits) with measure(x) ≥ target; measure must not increase with x.
template <class Measure>
__device__ float largest_threshold(float low, float target, Measure measure) {
  unsigned lo = __float_as_uint(low);
  unsigned hi = __float_as_uint(1.0f);
  while (lo < hi) {
    const unsigned mid = lo + (hi - lo + 1) / 2;
    if (measure(__uint_as_float(mid)) >= target) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return __uint_as_float(lo);
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* logits, int vocab, const SamplingParams* all_params, int* tokens) {
  wait_for_inputs();
  __shared__ float scratch[32];
  __shared__ float best_values[32];
  __shared__ int best_indices[32];
  const int row = blockIdx.x;
  const SamplingParams p = all_params[row];
  const float* x = logits + static_cast<std::size_t>(row) * vocab;

  if (p.greedy || p.temperature <= 0) {
    Best mine{-INFINITY, INT_MAX};
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) mine = better(mine, Best{x[i], i});
    const Best best = block_argmax(mine, best_values, best_indices);
    if (threadIdx.x == 0) tokens[row] = best.index;
    return;
  }

  float largest = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) largest = fmaxf(largest, x[i]);
  largest = block_max(largest, scratch);
  const auto mass_from = [&](float threshold, bool count_only) {
    float sum = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float q = relative_probability(x[i], largest, p.temperature);
      if (q >= threshold) sum += count_only ? 1.0f : q;
    }
    return block_sum(sum, scratch);
  };

  float threshold = 0;
  if (p.top_k > 0 && p.top_k < vocab) {
    threshold = largest_threshold(0.0f, static_cast<float>(p.top_k), [&](float t) { return mass_from(t, true); });
  }
  threshold = fmaxf(threshold, p.min_p);
  if (p.top_p < 1.0f) {
    const float total = mass_from(threshold, false);
    threshold = largest_threshold(threshold, p.top_p * total, [&](float t) { return mass_from(t, false); });
  }

  const std::uint64_t stream = mix64(p.seed ^ mix64(p.draw + 0x632be59bd9b4e019ULL));
  Best mine{-INFINITY, INT_MAX};
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float log_q = (x[i] - largest) / p.temperature;
    if (__expf(log_q) < threshold) continue;
    const float exponential = -__logf(uniform_open(mix64(stream ^ static_cast<std::uint64_t>(i))));
    mine = better(mine, Best{log_q - __logf(exponential), i});
  }
  const Best best = block_argmax(mine, best_values, best_indices);
  if (threadIdx.x == 0) tokens[row] = best.index;
}

}  // namespace

void sample_tokens(const float* logits, int rows, int vocab, const SamplingParams* params, int* tokens,
                   cudaStream_t stream) {
  if (rows == 0) return;
  launch(sample_kernel, rows, kThreads, 0, stream, logits, vocab, params, tokens);
  RBENCH_CUDA_CHECK_LAUNCH();
}

}  // namespace rbench::engine::cuda
