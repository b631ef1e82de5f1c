// Next-token sampling on the GPU. Greedy is an argmax, split over several blocks per row. Otherwise the
// temperature softmax is cut the way engine/runtime/sampling.cpp cuts it (top-k, then min-p, then
// the smallest set reaching top-p), and one token is drawn from what is left by an exponential race:
// the argmax of p_i / E_i with E_i ~ Exp(1) is a draw from p. E_i hashes (seed, draw, i), so a
// sequence's draws do not depend on the batch it shares.
//
// Without top-k (the R1 protocols: temperature and top-p), a row is split over blocks like a greedy
// one, in two launches: the row's maximum, then its probability bins (sample_binned_kernel). With
// top-k, one block per row finds each cut as a probability threshold by binary search over the bits
// of a float, a pass over the row per step.
#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

namespace {

constexpr int kThreads = 1024;
// A row is split over blocks of kPartSpan logits: 2 float4 loads per thread, all in flight at once
// (one 1024-thread block per row read the 600 KB of a 152k vocabulary in 60 us).
constexpr int kPartVectors = 2;
constexpr int kPartSpan = kThreads * 4 * kPartVectors;

// The argmax order (larger value, then lower index) as one unsigned number, so that partial results
// combine with atomicMax: the value's bits made monotonic on top, the complemented index below. NaN
// gets 0, below every number (never chosen over one, as better() skips it); -0 counts as +0.
__device__ __forceinline__ unsigned long long argmax_key(float value, int index) {
  if (value != value) return 0;
  const unsigned bits = __float_as_uint(value == 0.0f ? 0.0f : value);
  const unsigned ordered = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return static_cast<unsigned long long>(ordered) << 32 | static_cast<unsigned>(~index);
}

__device__ __forceinline__ float key_value(unsigned long long key) {
  const unsigned ordered = static_cast<unsigned>(key >> 32);
  return __uint_as_float((ordered & 0x80000000u) != 0 ? ordered & 0x7fffffffu : ~ordered);
}

__device__ __forceinline__ int key_index(unsigned long long key) {
  return key == 0 ? 0 : static_cast<int>(~static_cast<unsigned>(key));
}

// f(i, x[i]) for i in [begin, end) of a row by the whole block, U 16-byte loads per thread in flight
// before any is used (a load used in its own iteration waits out a round trip per logit: a 1024-thread
// block took ~37 µs a pass over a 152k row that way); scalar loads when rows are not 16-byte aligned.
template <int U, class F>
__device__ __forceinline__ void for_each_logit(const float* x, int vocab, int begin, int end, F f) {
  const int threads = static_cast<int>(blockDim.x);
  const int t = static_cast<int>(threadIdx.x);
  if (vocab % 4 == 0) {  // rows start 16-byte aligned (begin is a multiple of 4)
    for (int base = begin; base < end; base += 4 * U * threads) {
      float4 v[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int i = base + 4 * (u * threads + t);
        if (i < end) v[u] = *reinterpret_cast<const float4*>(x + i);
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int i = base + 4 * (u * threads + t);
        if (i >= end) continue;
        f(i, v[u].x);
        f(i + 1, v[u].y);
        f(i + 2, v[u].z);
        f(i + 3, v[u].w);
      }
    }
  } else {
    for (int base = begin + t; base < end; base += U * threads) {
      float v[U];
#pragma unroll
      for (int u = 0; u < U; ++u) v[u] = base + u * threads < end ? x[base + u * threads] : 0.0f;
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (base + u * threads < end) f(base + u * threads, v[u]);
      }
    }
  }
}

// The whole row, 4 loads per thread in flight (8 spilled: a 1024-thread block has 64 registers a thread).
template <class F>
__device__ __forceinline__ void for_each_logit(const float* x, int vocab, F f) {
  for_each_logit<4>(x, vocab, 0, vocab, f);
}

// Block part blockIdx.y of the row, [part·kPartSpan, +kPartSpan): each thread's loads all in flight.
template <class F>
__device__ __forceinline__ void for_each_in_part(const float* x, int vocab, F f) {
  const int begin = static_cast<int>(blockIdx.y) * kPartSpan;
  for_each_logit<kPartVectors>(x, vocab, begin, min(vocab, begin + kPartSpan), f);
}

// The best argmax key of this block's part of the row, into *best by atomicMax.
__device__ void best_of_part(const float* x, int vocab, unsigned long long* best) {
  __shared__ unsigned long long scratch[32];
  unsigned long long key = 0;
  for_each_in_part(x, vocab, [&](int i, float v) { key = max(key, argmax_key(v, i)); });
  key = block_reduce(key, 0ull, scratch, Max{});
  if (threadIdx.x == 0) atomicMax(best, key);
}

// Each row's scratch words: [kBestWord] the best argmax key of a greedy row, or the largest logit of a
// binned one (as a key); [kArrivedWord] counts the row's blocks as they arrive; the rest serve the bins.
constexpr int kBestWord = 0;
constexpr int kArrivedWord = 1;
constexpr int kTotalWord = 2;
constexpr int kBins = kThreads;  // 10 bits of q's float at a time
constexpr int kMassWords = 3;
constexpr int kBinBestWords = kMassWords + kBins;
constexpr int kRowWords = kBinBestWords + kBins;
static_assert(kBins == kThreads, "finish_binned_row gives each thread one bin");

// Block (row, part) of a greedy row: the best key of its part goes into the row's best word; the
// row's last block to arrive writes the token and leaves the words at zero for the next launch (and
// graph replay). A row of NaNs gives token 0.
__device__ void greedy_part(const float* x, int vocab, unsigned long long* words, int* token) {
  best_of_part(x, vocab, &words[kBestWord]);
  if (!last_to_arrive(reinterpret_cast<unsigned*>(&words[kArrivedWord]), gridDim.y) || threadIdx.x != 0) return;
  *token = key_index(atomicExch(&words[kBestWord], 0ull));
}

// Probability relative to the most likely token: exp((logit − max) / temperature), in (0, 1].
__device__ __forceinline__ float relative_probability(float logit, float max_logit, float temperature) {
  return __expf((logit - max_logit) / temperature);
}

// Largest x in [low, high] (as float bits) where reaches(x) holds; reaches must hold at low and, once
// false, stay false for every larger x.
template <class Reaches>
__device__ float largest_threshold(float low, float high, Reaches reaches) {
  unsigned lo = __float_as_uint(low);
  unsigned hi = __float_as_uint(high);
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

// The random stream of a row's draw: a function of the sequence's seed and the draw's position.
__device__ __forceinline__ std::uint64_t draw_stream(const SamplingParams& p) {
  return mix64(p.seed ^ mix64(p.draw + 0x632be59bd9b4e019ULL));
}

// The draw: each token left after the cuts enters an exponential race with key log q_i − log E_i
// (as an argmax key); the largest key wins. Every path draws through this, so the same cut gives the
// same token whichever search found it.
__device__ __forceinline__ unsigned long long race_key(int i, float logit, float largest, float temperature,
                                                       std::uint64_t stream) {
  const float log_q = (logit - largest) / temperature;
  const float exponential = -__logf(uniform_open(mix64(stream ^ static_cast<std::uint64_t>(i))));
  return argmax_key(log_q - __logf(exponential), i);
}

// q in fixed point (40 fraction bits): sums of them do not depend on the order of the additions, so
// thresholds (and tokens) do not depend on the order in which blocks and threads add them.
__device__ __forceinline__ unsigned long long fixed_mass(float q) {
  return static_cast<unsigned long long>(q * 1099511627776.0f);
}

// ---- with top-k: one block per row, a binary search per cut ----

// The token of a row (any cuts) drawn by one block: the maximum, then each cut a binary search with a
// pass over the row per step, then the race.
__device__ int sample_searched(const float* x, int vocab, const SamplingParams& p) {
  __shared__ float scratch[32];
  __shared__ unsigned long long keys[32];
  float largest = -INFINITY;
  for_each_logit(x, vocab, [&](int, float logit) { largest = fmaxf(largest, logit); });
  largest = block_max(largest, scratch);
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
    threshold =
        largest_threshold(0.0f, 1.0f, [&](float t) { return mass_from(t, true) >= static_cast<float>(p.top_k); });
  }
  threshold = fmaxf(threshold, p.min_p);
  if (p.top_p < 1.0f) {
    const float target = p.top_p * mass_from(threshold, false);
    threshold = largest_threshold(threshold, 1.0f, [&](float t) { return mass_from(t, false) >= target; });
  }
  const std::uint64_t stream = draw_stream(p);
  unsigned long long mine = 0;
  for_each_logit(x, vocab, [&](int i, float logit) {
    if (relative_probability(logit, largest, p.temperature) >= threshold) {
      mine = max(mine, race_key(i, logit, largest, p.temperature, stream));
    }
  });
  return key_index(block_reduce(mine, 0ull, keys, Max{}));
}

// ---- without top-k: the row over many blocks, by probability bins ----
//
// The cut is the largest q with the mass of the tokens at or above it reaching top_p of the total:
// some token's q, found 10 bits of its float at a time (q ≤ 1 has 30), as a radix select. The first
// launch puts the row's largest logit in its best word (best_of_part). Then each block of
// sample_binned_kernel takes its part of the row: it totals q over the tokens at or above min-p and,
// for those that can be kept at all — q ≥ cut = (1 − top_p) / 2·vocab (the rest together weigh less
// than (1 − top_p) of the total, which is at least 1) — adds q to its bin (q's top 10 bits) and keeps
// the bin's best race key. The row's last block finds the bin where the mass from the top reaches the
// target: every token of a higher bin is kept (their best key competes), and the cut lies inside. It
// bins that bin's tokens by the next 10 bits (a pass over the row, keeping them when they are few),
// and those of the next crossing bin by the last 10: that bin is one q, the cut. Masses are in fixed
// point and race keys combine by max, so the token does not depend on the order of the additions.
constexpr int kCandidates = 2048;

__device__ __forceinline__ bool binned(const SamplingParams& p) {
  return !p.greedy && p.temperature > 0 && p.top_k <= 0;
}

struct BinnedShared {
  unsigned long long mass[kBins];
  unsigned long long best[kBins];
  float logit[kCandidates];  // the tokens of the first crossing bin, while they fit
  int index[kCandidates];
  unsigned candidates;
  unsigned long long above;
  unsigned long long scratch[32];
};

// Thread t's bin is kBins − 1 − t (so a prefix sum over threads runs from the top down), with its mass
// and best key. Finds the highest nonempty bin whose mass from the top, after `above`, reaches the
// target; adds the mass of the bins over it to `above` and their best key to `best_above`. Returns
// the bin, or -1 if none is nonempty.
__device__ int crossing_bin(unsigned long long mass, unsigned long long best, unsigned long long target,
                            unsigned long long& above, unsigned long long& best_above, BinnedShared& shared) {
  const int bin = kBins - 1 - static_cast<int>(threadIdx.x);
  const int lane = threadIdx.x % 32;
  unsigned long long from_top = mass;
  for (int offset = 1; offset < 32; offset <<= 1) {
    const unsigned long long other = __shfl_up_sync(0xffffffffu, from_top, offset);
    if (lane >= offset) from_top += other;
  }
  __syncthreads();
  if (lane == 31) shared.scratch[threadIdx.x / 32] = from_top;
  __syncthreads();
  for (int w = 0; w < static_cast<int>(threadIdx.x / 32); ++w) from_top += shared.scratch[w];
  const bool reaches = best != 0 && above + from_top >= target;
  const int chosen = static_cast<int>(block_reduce(reaches ? bin + 1ull : 0ull, 0ull, shared.scratch, Max{})) - 1;
  if (bin == chosen) shared.above = above + from_top - mass;
  // Its barriers publish `above`.
  best_above = max(best_above, block_reduce(bin > chosen ? best : 0ull, 0ull, shared.scratch, Max{}));
  if (chosen >= 0) above = shared.above;
  return chosen;
}

// The row's last block: the token, from the row's bins and two more levels of them (leaves the row's
// words at zero).
__device__ int finish_binned_row(const float* x, int vocab, const SamplingParams& p, float largest, float cut,
                                 unsigned long long* words, BinnedShared& shared) {
  const int t = static_cast<int>(threadIdx.x);
  const int bin = kBins - 1 - t;
  unsigned long long mass = words[kMassWords + bin];
  unsigned long long best = words[kBinBestWords + bin];
  words[kMassWords + bin] = 0;
  words[kBinBestWords + bin] = 0;
  const unsigned long long total = block_reduce(t == 0 ? words[kTotalWord] : 0ull, 0ull, shared.scratch, Add{});
  if (t == 0) {
    words[kTotalWord] = 0;
    words[kBestWord] = 0;
    shared.candidates = 0;
  }
  // min-p alone: every bin is kept.
  if (p.top_p >= 1.0f) return key_index(block_reduce(best, 0ull, shared.scratch, Max{}));

  const unsigned long long target = static_cast<unsigned long long>(static_cast<double>(p.top_p) * total);
  const std::uint64_t stream = draw_stream(p);
  unsigned long long above = 0;
  unsigned long long best_above = 0;
  unsigned prefix = crossing_bin(mass, best, target, above, best_above, shared);  // q's bits 29..20
  for (int level = 2; level <= 3; ++level) {
    const int shift = 10 * (3 - level);
    // Bin the tokens of the crossing bin so far by q's bits shift + 9 .. shift.
    shared.mass[t] = 0;
    shared.best[t] = 0;
    __syncthreads();
    const auto add = [&](int i, float logit, bool keep) {
      const float q = relative_probability(logit, largest, p.temperature);
      const unsigned bits = __float_as_uint(q);
      if (!(q >= cut) || bits >> (shift + 10) != prefix) return;
      const int b = static_cast<int>(bits >> shift) & (kBins - 1);
      atomicAdd(&shared.mass[b], fixed_mass(q));
      atomicMax(&shared.best[b], race_key(i, logit, largest, p.temperature, stream));
      if (!keep) return;
      const unsigned slot = atomicAdd(&shared.candidates, 1u);
      if (slot < kCandidates) {
        shared.logit[slot] = logit;
        shared.index[slot] = i;
      }
    };
    const unsigned kept = shared.candidates;  // the first level's tokens (0 during it)
    if (shift == 0 && kept <= kCandidates) {
      for (unsigned j = t; j < kept; j += blockDim.x) add(shared.index[j], shared.logit[j], false);
    } else {
      for_each_logit(x, vocab, [&](int i, float logit) { add(i, logit, shift == 10); });
    }
    __syncthreads();
    const int b = crossing_bin(shared.mass[bin], shared.best[bin], target, above, best_above, shared);
    prefix = prefix << 10 | static_cast<unsigned>(b);
    if (shift == 0) {
      best_above = max(best_above, block_reduce(bin == b ? shared.best[bin] : 0ull, 0ull, shared.scratch, Max{}));
    }
  }
  return key_index(best_above);
}

// Block (row, part) of a binned row, after the launch that found the row's largest logit.
__global__ void __launch_bounds__(kThreads) sample_binned_kernel(const float* logits, int vocab,
                                                                const SamplingParams* all_params,
                                                                unsigned long long* scratch_words, int* tokens) {
  wait_for_inputs();
  __shared__ BinnedShared shared;
  const int row = blockIdx.x;
  const SamplingParams p = all_params[row];
  if (!binned(p)) return;
  const float* x = logits + static_cast<std::size_t>(row) * vocab;
  unsigned long long* words = scratch_words + static_cast<std::size_t>(row) * kRowWords;
  const float largest = key_value(words[kBestWord]);
  const float low = fmaxf(0.0f, p.min_p);
  const float cut = p.top_p < 1.0f ? fmaxf(low, 0.5f * (1.0f - p.top_p) / static_cast<float>(vocab)) : low;
  const std::uint64_t stream = draw_stream(p);
  shared.mass[threadIdx.x] = 0;
  shared.best[threadIdx.x] = 0;
  __syncthreads();
  unsigned long long total = 0;
  for_each_in_part(x, vocab, [&](int i, float logit) {
    const float q = relative_probability(logit, largest, p.temperature);
    if (!(q >= low)) return;
    total += fixed_mass(q);
    if (q < cut) return;
    const int b = static_cast<int>(__float_as_uint(q) >> 20);
    atomicAdd(&shared.mass[b], fixed_mass(q));
    atomicMax(&shared.best[b], race_key(i, logit, largest, p.temperature, stream));
  });
  total = block_reduce(total, 0ull, shared.scratch, Add{});  // its barriers also publish the bins
  if (threadIdx.x == 0 && total != 0) atomicAdd(&words[kTotalWord], total);
  if (shared.mass[threadIdx.x] != 0) atomicAdd(&words[kMassWords + threadIdx.x], shared.mass[threadIdx.x]);
  if (shared.best[threadIdx.x] != 0) atomicMax(&words[kBinBestWords + threadIdx.x], shared.best[threadIdx.x]);
  if (!last_to_arrive(reinterpret_cast<unsigned*>(&words[kArrivedWord]), gridDim.y)) return;
  const int token = finish_binned_row(x, vocab, p, largest, cut, words, shared);
  if (threadIdx.x == 0) tokens[row] = token;
}

// Block (row, part): every part of a greedy row, and of a binned row's maximum (when the binned launch
// follows); part 0 alone of any other row.
__global__ void __launch_bounds__(kThreads) sample_kernel(const float* logits, int vocab,
                                                         const SamplingParams* all_params,
                                                         unsigned long long* scratch_words, int* tokens,
                                                         bool binned_launch_follows) {
  wait_for_inputs();
  const int row = blockIdx.x;
  const SamplingParams p = all_params[row];
  const float* x = logits + static_cast<std::size_t>(row) * vocab;
  unsigned long long* words = scratch_words + static_cast<std::size_t>(row) * kRowWords;
  if (p.greedy || p.temperature <= 0) return greedy_part(x, vocab, words, &tokens[row]);
  if (binned(p) && binned_launch_follows) return best_of_part(x, vocab, &words[kBestWord]);
  if (blockIdx.y != 0) return;
  const int token = sample_searched(x, vocab, p);
  if (threadIdx.x == 0) tokens[row] = token;
}

}  // namespace

void sample_tokens(const float* logits, int rows, int vocab, const SamplingParams* params,
                   unsigned long long* scratch, int* tokens, bool any_sampled, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 grid(rows, blocks_for(vocab, kPartSpan));
  launch(sample_kernel, grid, kThreads, 0, stream, logits, vocab, params, scratch, tokens, any_sampled);
  RBENCH_CUDA_CHECK_LAUNCH();
  if (!any_sampled) return;
  launch(sample_binned_kernel, grid, kThreads, 0, stream, logits, vocab, params, scratch, tokens);
  RBENCH_CUDA_CHECK_LAUNCH();
}

std::size_t sampling_scratch_words(int rows) { return static_cast<std::size_t>(kRowWords) * rows; }

}  // namespace rbench::engine::cuda
