// Next-token sampling on the GPU. Greedy is an argmax, split over several blocks per row. Otherwise the
// temperature softmax is cut the way engine/runtime/sampling.cpp cuts it (top-k, then min-p, then
// the smallest set reaching top-p), each cut found as a probability threshold by binary search over
// the bits of a float (with top-p alone, over the few tokens that can be kept: sample_top_p), and one
// token is drawn from what is left by an exponential race (one block per row): the argmax of p_i / E_i
// with E_i ~ Exp(1) is a draw from p. E_i hashes (seed, draw, i), so a sequence's draws do not depend
// on the batch it shares.
#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kThreads = 1024;
// A greedy row is split over blocks of kGreedySpan logits: 2 float4 loads per thread, all in flight
// at once (one 1024-thread block per row read the 600 KB of a 152k vocabulary in 60 us).
constexpr int kGreedyVectors = 2;
constexpr int kGreedySpan = kThreads * 4 * kGreedyVectors;

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

// The argmax order (larger value, then lower index) as one unsigned number, so that partial results
// combine with atomicMax: the value's bits made monotonic on top, the complemented index below. NaN
// gets 0, below every number (never chosen over one, as better() skips it); -0 counts as +0.
__device__ __forceinline__ unsigned long long argmax_key(float value, int index) {
  if (value != value) return 0;
  const unsigned bits = __float_as_uint(value == 0.0f ? 0.0f : value);
  const unsigned ordered = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return static_cast<unsigned long long>(ordered) << 32 | static_cast<unsigned>(~index);
}

__device__ __forceinline__ unsigned long long larger(unsigned long long a, float value, int index) {
  return max(a, argmax_key(value, index));
}

// Block (row, part) of a greedy row: the best key of logits [part·kGreedySpan, +kGreedySpan) goes
// into best by atomicMax; the row's last block to arrive (last_to_arrive on `arrived`) writes the
// token and leaves best at zero for the next launch (and graph replay). A row of NaNs gives token 0.
__device__ void greedy_part(const float* x, int vocab, unsigned long long* best, unsigned* arrived, int* token) {
  __shared__ unsigned long long warp_keys[32];
  const int begin = static_cast<int>(blockIdx.y) * kGreedySpan;
  const int end = min(vocab, begin + kGreedySpan);
  unsigned long long key = 0;
  if (vocab % 4 == 0) {  // rows start 16-byte aligned
    float4 v[kGreedyVectors];
#pragma unroll
    for (int u = 0; u < kGreedyVectors; ++u) {
      const int i = begin + 4 * (u * kThreads + static_cast<int>(threadIdx.x));
      if (i < end) v[u] = *reinterpret_cast<const float4*>(x + i);
    }
#pragma unroll
    for (int u = 0; u < kGreedyVectors; ++u) {
      const int i = begin + 4 * (u * kThreads + static_cast<int>(threadIdx.x));
      if (i >= end) continue;
      key = larger(key, v[u].x, i);
      key = larger(key, v[u].y, i + 1);
      key = larger(key, v[u].z, i + 2);
      key = larger(key, v[u].w, i + 3);
    }
  } else {
    for (int i = begin + static_cast<int>(threadIdx.x); i < end; i += kThreads) key = larger(key, x[i], i);
  }
  for (int offset = 16; offset > 0; offset >>= 1) key = max(key, __shfl_xor_sync(0xffffffffu, key, offset));
  const int lane = threadIdx.x % 32;
  if (lane == 0) warp_keys[threadIdx.x / 32] = key;
  __syncthreads();
  if (threadIdx.x < 32) {
    key = lane < kThreads / 32 ? warp_keys[lane] : 0;
    for (int offset = 16; offset > 0; offset >>= 1) key = max(key, __shfl_xor_sync(0xffffffffu, key, offset));
    if (lane == 0) atomicMax(best, key);
  }
  if (!last_to_arrive(arrived, gridDim.y) || threadIdx.x != 0) return;
  const unsigned long long winner = atomicExch(best, 0ull);
  *token = winner == 0 ? 0 : static_cast<int>(~static_cast<unsigned>(winner));
}

// f(i, x[i]) for each of this thread's logits of the row (i = threadIdx.x, + blockDim.x, ...), in that
// order, kLogitLoads loads in flight at a time: a load used in its own iteration waits out a round trip
// per logit (a 1024-thread block took ~37 µs a pass over a 152k row that way).
constexpr int kLogitLoads = 8;
template <class F>
__device__ __forceinline__ void for_each_logit(const float* x, int vocab, F f) {
  const int stride = static_cast<int>(blockDim.x);
  for (int base = static_cast<int>(threadIdx.x); base < vocab; base += kLogitLoads * stride) {
    float v[kLogitLoads];
#pragma unroll
    for (int u = 0; u < kLogitLoads; ++u) v[u] = base + u * stride < vocab ? x[base + u * stride] : 0.0f;
#pragma unroll
    for (int u = 0; u < kLogitLoads; ++u) {
      if (base + u * stride < vocab) f(base + u * stride, v[u]);
    }
  }
}

// Probability relative to the most likely token: exp((logit − max) / temperature), in (0, 1].
__device__ __forceinline__ float relative_probability(float logit, float max_logit, float temperature) {
  return __expf((logit - max_logit) / temperature);
}

// Largest x in [low, 1] (as float bits) where reaches(x) holds; reaches must hold at low and, once
// false, stay false for every larger x.
template <class Reaches>
__device__ float largest_threshold(float low, Reaches reaches) {
  unsigned lo = __float_as_uint(low);
  unsigned hi = __float_as_uint(1.0f);
  while (lo < hi) {
    const unsigned mid = lo + (hi - lo + 1) / 2;
    if (reaches(__uint_as_float(mid))) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return __uint_as_float(lo);
}

// The draw: each token left after the cuts enters an exponential race with key log q_i − log E_i;
// the largest key wins (both searches call this, so they draw the same token from the same cut).
__device__ __forceinline__ void enter_race(Best& mine, int i, float logit, float largest, float threshold,
                                           float temperature, std::uint64_t stream) {
  const float log_q = (logit - largest) / temperature;
  if (__expf(log_q) < threshold) return;
  const float exponential = -__logf(uniform_open(mix64(stream ^ static_cast<std::uint64_t>(i))));
  mine = better(mine, Best{log_q - __logf(exponential), i});
}

// The random stream of a row's draw: a function of the sequence's seed and the draw's position.
__device__ __forceinline__ std::uint64_t draw_stream(const SamplingParams& p) {
  return mix64(p.seed ^ mix64(p.draw + 0x632be59bd9b4e019ULL));
}

// ---- top-p without top-k: the search over the few tokens that can be kept ----
//
// The binary search over the whole vocabulary reads a 152k row ~30 times. With only top-p (and min-p)
// to apply, a token with q below cut = (1 − top_p) / 2·vocab of the most likely one can never be kept:
// all of them together weigh less than (1 − top_p) of the total, which is at least 1. So one pass
// totals the row and collects the tokens at or above the cut in shared memory; the threshold is then
// searched among them alone, and the draw made among them. A row with more than kCandidates such
// tokens (a nearly flat distribution) takes the whole-vocabulary search instead.
constexpr int kCandidates = 4096;

struct Candidates {
  float q[kCandidates];
  int index[kCandidates];
  unsigned count;
  unsigned long long mass[3];  // one per search step, in rotation (see candidate_mass)
};

// q in fixed point (40 fraction bits): sums of them do not depend on the order of the additions, so
// the threshold (and the token) do not depend on the order in which the candidates were collected.
__device__ __forceinline__ unsigned long long fixed_mass(float q) {
  return static_cast<unsigned long long>(q * 1099511627776.0f);
}

// Σ fixed_mass(q) over the candidates with q ≥ t: one barrier per call (step counts the calls, from 0
// with mass[0] zero). Step s adds into mass[s % 3] and zeroes mass[(s + 1) % 3] for the next step: that
// one was last read after step s − 2's barrier, and every thread has passed step s − 1's since.
__device__ unsigned long long candidate_mass(Candidates& c, unsigned count, float t, int step) {
  if (threadIdx.x == 0) c.mass[(step + 1) % 3] = 0;
  unsigned long long sum = 0;
  for (unsigned j = threadIdx.x; j < count; j += blockDim.x) sum += c.q[j] >= t ? fixed_mass(c.q[j]) : 0ull;
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0 && sum != 0) atomicAdd(&c.mass[step % 3], sum);
  __syncthreads();
  return c.mass[step % 3];
}

// The token of a top-p (and min-p) row drawn among its candidates; -1 when it has too many.
__device__ int sample_top_p(const float* x, int vocab, const SamplingParams& p, float largest, float* scratch,
                            float* best_values, int* best_indices) {
  __shared__ Candidates c;
  if (threadIdx.x == 0) {
    c.count = 0;
    c.mass[0] = 0;
  }
  __syncthreads();
  const float low = fmaxf(0.0f, p.min_p);
  const float cut = fmaxf(low, 0.5f * (1.0f - p.top_p) / static_cast<float>(vocab));
  float mass = 0;
  for_each_logit(x, vocab, [&](int i, float logit) {
    const float q = relative_probability(logit, largest, p.temperature);
    if (q >= low) mass += q;
    if (q < cut) return;
    const unsigned slot = atomicAdd(&c.count, 1u);
    if (slot < kCandidates) {
      c.q[slot] = q;
      c.index[slot] = i;
    }
  });
  const float total = block_sum(mass, scratch);  // its barriers also publish the candidates
  const unsigned count = c.count;
  if (count > kCandidates) return -1;
  // The same target as the whole-vocabulary search, in fixed point.
  const unsigned long long target = static_cast<unsigned long long>(static_cast<double>(p.top_p * total) * 0x1p40);
  int step = 0;
  const float threshold =
      largest_threshold(cut, [&](float t) { return candidate_mass(c, count, t, step++) >= target; });

  const std::uint64_t stream = draw_stream(p);
  Best mine{-INFINITY, INT_MAX};
  for (unsigned j = threadIdx.x; j < count; j += blockDim.x) {
    const int i = c.index[j];
    enter_race(mine, i, x[i], largest, threshold, p.temperature, stream);
  }
  return block_argmax(mine, best_values, best_indices).index;
}

// Block (row, part): every part of a greedy row; part 0 alone of a sampled row.
__global__ void __launch_bounds__(kThreads) sample_kernel(const float* logits, int vocab,
                                                         const SamplingParams* all_params,
                                                         unsigned long long* scratch_words, int* tokens) {
  wait_for_inputs();
  __shared__ float scratch[32];
  __shared__ float best_values[32];
  __shared__ int best_indices[32];
  const int row = blockIdx.x;
  const SamplingParams p = all_params[row];
  const float* x = logits + static_cast<std::size_t>(row) * vocab;

  if (p.greedy || p.temperature <= 0) {
    // Word 2·row: the best key; word 2·row + 1: its low half counts the row's blocks as they arrive.
    greedy_part(x, vocab, &scratch_words[2 * row], reinterpret_cast<unsigned*>(&scratch_words[2 * row + 1]),
                &tokens[row]);
    return;
  }
  if (blockIdx.y != 0) return;

  float largest = -INFINITY;
  for_each_logit(x, vocab, [&](int, float logit) { largest = fmaxf(largest, logit); });
  largest = block_max(largest, scratch);
  if (p.top_k <= 0 && p.top_p < 1.0f) {
    const int token = sample_top_p(x, vocab, p, largest, scratch, best_values, best_indices);
    if (token >= 0) {
      if (threadIdx.x == 0) tokens[row] = token;
      return;
    }
  }
  const auto mass_from = [&](float threshold, bool count_only) {
    float sum = 0;
    for_each_logit(x, vocab, [&](int, float logit) {
      const float q = relative_probability(logit, largest, p.temperature);
      if (q >= threshold) sum += count_only ? 1.0f : q;
    });
    return block_sum(sum, scratch);
  };

  float threshold = 0;
  if (p.top_k > 0 && p.top_k < vocab) {
    threshold = largest_threshold(0.0f, [&](float t) { return mass_from(t, true) >= static_cast<float>(p.top_k); });
  }
  threshold = fmaxf(threshold, p.min_p);
  if (p.top_p < 1.0f) {
    const float total = mass_from(threshold, false);
    const float target = p.top_p * total;
    threshold = largest_threshold(threshold, [&](float t) { return mass_from(t, false) >= target; });
  }

  const std::uint64_t stream = draw_stream(p);
  Best mine{-INFINITY, INT_MAX};
  for_each_logit(x, vocab,
                 [&](int i, float logit) { enter_race(mine, i, logit, largest, threshold, p.temperature, stream); });
  const Best best = block_argmax(mine, best_values, best_indices);
  if (threadIdx.x == 0) tokens[row] = best.index;
}

}  // namespace

void sample_tokens(const float* logits, int rows, int vocab, const SamplingParams* params,
                   unsigned long long* scratch, int* tokens, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 grid(rows, blocks_for(vocab, kGreedySpan));
  launch(sample_kernel, grid, kThreads, 0, stream, logits, vocab, params, scratch, tokens);
  RBENCH_CUDA_CHECK_LAUNCH();
}

}  // namespace rbench::engine::cuda
