// Device time of the decoding kernels, one kernel at a time, timed with CUDA events around a batch of
// launches (manual time): the mixture-of-experts and sampling kernels at Qwen3-30B-A3B's shape (hidden
// 2048, 128 experts, top 8, expert intermediate 768, vocabulary 151,936), and the batch-1 products at
// both bench shapes' widths. weight_TB/s: the weight bytes a launch must read over its time
// (logits_TB/s for sampling: one read of the logits), to set beside the copy bandwidth (H200 ~4.26
// TB/s, H100 ~3.0). Runs on the GPU machine; elsewhere (or in a CPU-only build) each benchmark reports
// an error and is skipped.
#include <benchmark/benchmark.h>

#include <string>

#include "engine/device.h"

#ifdef RBENCH_WITH_CUDA
#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "engine/cuda/device_buffer.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/ops.h"
#endif

namespace rbench::engine {
namespace {

#ifdef RBENCH_WITH_CUDA

using cuda::bf16;
using cuda::DeviceBuffer;

constexpr int kHidden = 2048;
constexpr int kExperts = 128;
constexpr int kTopK = 8;
constexpr int kIntermediate = 768;
constexpr int kVocab = 151936;
constexpr int kLaunchesPerIteration = 20;

// Runs enqueue() kLaunchesPerIteration times per iteration and reports the mean device time of one;
// returns the mean in seconds.
template <class Enqueue>
double time_launches(benchmark::State& state, Enqueue&& enqueue) {
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  RBENCH_CUDA_CHECK(cudaEventCreate(&start));
  RBENCH_CUDA_CHECK(cudaEventCreate(&stop));
  enqueue();  // warm-up (and first-launch setup)
  RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
  double total = 0;
  for (auto _ : state) {
    RBENCH_CUDA_CHECK(cudaEventRecord(start, nullptr));
    for (int i = 0; i < kLaunchesPerIteration; ++i) enqueue();
    RBENCH_CUDA_CHECK(cudaEventRecord(stop, nullptr));
    RBENCH_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    RBENCH_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1e3 / kLaunchesPerIteration);
    total += ms / 1e3 / kLaunchesPerIteration;
  }
  RBENCH_CUDA_CHECK(cudaEventDestroy(start));
  RBENCH_CUDA_CHECK(cudaEventDestroy(stop));
  return total / static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
}

// Random expert weights and activations on the device, and `tokens` tokens routed to top_k distinct
// random experts each, grouped by expert.
struct MoeLayer {
  DeviceBuffer<bf16> x, gate_up, down, act;
  DeviceBuffer<float> out, hidden_state, weights;
  DeviceBuffer<int> ids, offsets, order, slot_of;
  int tokens = 0;
  int experts_touched = 0;

  explicit MoeLayer(int tokens_) : tokens(tokens_) {
    const std::size_t assignments = static_cast<std::size_t>(tokens) * kTopK;
    x = DeviceBuffer<bf16>(static_cast<std::size_t>(tokens) * kHidden);
    gate_up = DeviceBuffer<bf16>(static_cast<std::size_t>(kExperts) * 2 * kIntermediate * kHidden);
    down = DeviceBuffer<bf16>(static_cast<std::size_t>(kExperts) * kHidden * kIntermediate);
    act = DeviceBuffer<bf16>(assignments * kIntermediate);
    out = DeviceBuffer<float>(assignments * kHidden);
    hidden_state = DeviceBuffer<float>(static_cast<std::size_t>(tokens) * kHidden);
    cuda::fill_uniform<bf16>(x.data(), x.size(), 1, 1.0f, 0.0f, nullptr);
    cuda::fill_uniform<bf16>(gate_up.data(), gate_up.size(), 2, 0.02f, 0.0f, nullptr);
    cuda::fill_uniform<bf16>(down.data(), down.size(), 3, 0.02f, 0.0f, nullptr);
    cuda::fill_uniform<bf16>(act.data(), act.size(), 4, 1.0f, 0.0f, nullptr);
    cuda::fill_uniform<float>(hidden_state.data(), hidden_state.size(), 5, 1.0f, 0.0f, nullptr);
    std::mt19937 rng(7);
    std::vector<int> all(kExperts);
    std::iota(all.begin(), all.end(), 0);
    std::vector<int> host_ids;
    std::vector<bool> touched(kExperts, false);
    for (int t = 0; t < tokens; ++t) {
      std::shuffle(all.begin(), all.end(), rng);
      host_ids.insert(host_ids.end(), all.begin(), all.begin() + kTopK);
      for (int k = 0; k < kTopK; ++k) touched[all[k]] = true;
    }
    experts_touched = static_cast<int>(std::count(touched.begin(), touched.end(), true));
    ids = DeviceBuffer<int>::from(host_ids);
    weights = DeviceBuffer<float>::from(std::vector<float>(assignments, 1.0f / kTopK));
    offsets = DeviceBuffer<int>(kExperts + 1);
    order = DeviceBuffer<int>(assignments);
    slot_of = DeviceBuffer<int>(assignments);
    cuda::group_by_expert(ids.data(), static_cast<int>(assignments), kExperts, offsets.data(), order.data(),
                          slot_of.data(), nullptr);
    RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
  }
};

// What a launch must read (weights, or logits for sampling) over its mean time.
void report_bandwidth(benchmark::State& state, const char* name, double bytes_per_launch, double seconds_per_launch) {
  state.counters[name] = bytes_per_launch / seconds_per_launch / 1e12;
}

void BM_ExpertGateUpMma(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  MoeLayer layer(static_cast<int>(state.range(0)));
  const double seconds = time_launches(state, [&] {
    cuda::expert_gate_up_mma(layer.x.data(), layer.gate_up.data(), layer.offsets.data(), layer.order.data(), kTopK,
                             kExperts, kHidden, kIntermediate, layer.act.data(), nullptr);
  });
  const double bytes = static_cast<double>(layer.experts_touched) * 2 * kIntermediate * kHidden * sizeof(bf16);
  report_bandwidth(state, "weight_TB/s", bytes, seconds);
}
BENCHMARK(BM_ExpertGateUpMma)->Arg(16)->Arg(64)->Arg(256)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_ExpertDownMma(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  MoeLayer layer(static_cast<int>(state.range(0)));
  const double seconds = time_launches(state, [&] {
    cuda::expert_down_mma(layer.act.data(), layer.down.data(), layer.offsets.data(), kExperts, kHidden, kIntermediate,
                          layer.out.data(), nullptr);
  });
  const double bytes = static_cast<double>(layer.experts_touched) * kHidden * kIntermediate * sizeof(bf16);
  report_bandwidth(state, "weight_TB/s", bytes, seconds);
}
BENCHMARK(BM_ExpertDownMma)->Arg(16)->Arg(64)->Arg(256)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Batch-1 decoding's three MoE launches: router product + routing, gate/up, down + combine.
void BM_OneTokenRouterAndRoute(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  DeviceBuffer<float> x(kHidden), router(static_cast<std::size_t>(kExperts) * kHidden), logits(kExperts),
      weights(kTopK);
  DeviceBuffer<int> ids(kTopK);
  auto ticket = DeviceBuffer<unsigned>::from(std::vector<unsigned>(1, 0u));
  cuda::fill_uniform<float>(x.data(), x.size(), 1, 1.0f, 0.0f, nullptr);
  cuda::fill_uniform<float>(router.data(), router.size(), 2, 0.05f, 0.0f, nullptr);
  cpu::RouterSpec spec;
  spec.top_k = kTopK;
  spec.normalize = true;
  const cuda::RouterParams params = cuda::router_params(spec, kExperts);
  const double seconds = time_launches(state, [&] {
    cuda::route_token_row(x.data(), router.data(), kHidden, nullptr, params, logits.data(), ticket.data(), ids.data(),
                          weights.data(), nullptr);
  });
  report_bandwidth(state, "weight_TB/s", static_cast<double>(kExperts) * kHidden * 4, seconds);
}
BENCHMARK(BM_OneTokenRouterAndRoute)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_OneTokenExpertGateUp(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  MoeLayer layer(1);
  const double seconds = time_launches(state, [&] {
    cuda::expert_gate_up_rows<bf16>(layer.x.data(), layer.gate_up.data(), layer.ids.data(), nullptr, kTopK, kTopK,
                                    kHidden, kIntermediate, layer.act.data(), nullptr);
  });
  report_bandwidth(state, "weight_TB/s", static_cast<double>(kTopK) * 2 * kIntermediate * kHidden * 2, seconds);
}
BENCHMARK(BM_OneTokenExpertGateUp)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_OneTokenExpertDownCombine(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  MoeLayer layer(1);
  const double seconds = time_launches(state, [&] {
    cuda::expert_down_combine_row<bf16>(layer.act.data(), layer.down.data(), layer.ids.data(), layer.weights.data(),
                                        kTopK, kHidden, kIntermediate, layer.hidden_state.data(), nullptr);
  });
  report_bandwidth(state, "weight_TB/s", static_cast<double>(kTopK) * kHidden * kIntermediate * 2, seconds);
}
BENCHMARK(BM_OneTokenExpertDownCombine)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Copies of one bf16 weight matrix filling 256 MB or more, handed out in turn, so that a launch never
// finds its weights still in the 50 MB L2 from the launch before.
class CycledWeights {
 public:
  explicit CycledWeights(std::size_t elements)
      : elements_(elements), copies_((256u << 20) / (elements * sizeof(bf16)) + 1), all_(copies_ * elements) {
    cuda::fill_uniform<bf16>(all_.data(), all_.size(), 1, 0.02f, 0.0f, nullptr);
  }
  const bf16* next() { return all_.data() + (next_++ % copies_) * elements_; }
  double bytes() const { return static_cast<double>(elements_) * sizeof(bf16); }

 private:
  std::size_t elements_, copies_;
  DeviceBuffer<bf16> all_;
  std::size_t next_ = 0;
};

// Batch-1 decoding's one-row products y = x · wᵀ at the bench shapes' widths (args: out, in):
// R1-Distill-Qwen-1.5B's qkv, o, down and output head, Qwen3-30B-A3B's qkv and o.
void BM_OneRowLinear(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  const int out = static_cast<int>(state.range(0));
  const int in = static_cast<int>(state.range(1));
  CycledWeights weights(static_cast<std::size_t>(out) * in);
  DeviceBuffer<bf16> x(in);
  DeviceBuffer<float> y(out);
  cuda::fill_uniform<bf16>(x.data(), x.size(), 2, 1.0f, 0.0f, nullptr);
  const double seconds = time_launches(state, [&] {
    cuda::small_linear<bf16>(x.data(), in, weights.next(), out, in, 1, y.data(), out, false, nullptr);
  });
  report_bandwidth(state, "weight_TB/s", weights.bytes(), seconds);
}
BENCHMARK(BM_OneRowLinear)
    ->Args({2048, 1536})
    ->Args({1536, 1536})
    ->Args({1536, 8960})
    ->Args({151936, 1536})
    ->Args({5120, 2048})
    ->Args({2048, 4096})
    ->ArgNames({"out", "in"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// A dense MLP's one-row gate/up + SwiGLU at R1-Distill-Qwen-1.5B's widths (hidden 1536,
// intermediate 8960).
void BM_OneRowDenseGateUp(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  constexpr int hidden = 1536;
  constexpr int intermediate = 8960;
  CycledWeights weights(static_cast<std::size_t>(2) * intermediate * hidden);
  DeviceBuffer<bf16> x(hidden), act(intermediate);
  cuda::fill_uniform<bf16>(x.data(), x.size(), 2, 1.0f, 0.0f, nullptr);
  const double seconds = time_launches(state, [&] {
    cuda::expert_gate_up_rows<bf16>(x.data(), weights.next(), nullptr, nullptr, 1, 1, hidden, intermediate, act.data(),
                                    nullptr);
  });
  report_bandwidth(state, "weight_TB/s", weights.bytes(), seconds);
}
BENCHMARK(BM_OneRowDenseGateUp)->UseManualTime()->Unit(benchmark::kMicrosecond);

// sample_tokens over rows of kVocab logits, one row per params entry; reports logits_TB/s.
void time_sampling(benchmark::State& state, const float* logits, const std::vector<cuda::SamplingParams>& params) {
  const int rows = static_cast<int>(params.size());
  const bool any_sampled = std::any_of(params.begin(), params.end(), [](const auto& p) { return !p.greedy; });
  const auto params_device = DeviceBuffer<cuda::SamplingParams>::from(params);
  auto scratch =
      DeviceBuffer<unsigned long long>::from(std::vector<unsigned long long>(cuda::sampling_scratch_words(rows), 0));
  DeviceBuffer<int> tokens(rows);
  const double seconds = time_launches(state, [&] {
    cuda::sample_tokens(logits, rows, kVocab, params_device.data(), scratch.data(), tokens.data(), any_sampled,
                        nullptr);
  });
  report_bandwidth(state, "logits_TB/s", static_cast<double>(rows) * kVocab * sizeof(float), seconds);
}

// Greedy sampling of `rows` rows of the vocabulary.
void BM_GreedySample(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  const int rows = static_cast<int>(state.range(0));
  DeviceBuffer<float> logits(static_cast<std::size_t>(rows) * kVocab);
  cuda::fill_uniform<float>(logits.data(), logits.size(), 9, 10.0f, 0.0f, nullptr);
  std::vector<cuda::SamplingParams> params(rows);
  for (auto& p : params) p.greedy = 1;
  time_sampling(state, logits.data(), params);
}
BENCHMARK(BM_GreedySample)->Arg(1)->Arg(64)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The R1 protocol's draw (temperature 0.6, top-p 0.95) for `rows` rows of normal logits with standard
// deviation range(1): 4 gives a peaked row (few tokens in the bin where the cut falls), 1 a nearly
// flat one (thousands), as the random-weight `bench` shapes give.
void BM_TopPSample(benchmark::State& state) {
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) return state.SkipWithError(why.c_str());
  const int rows = static_cast<int>(state.range(0));
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(state.range(1)));
  std::vector<float> host(static_cast<std::size_t>(rows) * kVocab);
  for (float& v : host) v = normal(rng);
  const auto logits = DeviceBuffer<float>::from(host);
  std::vector<cuda::SamplingParams> params(rows);
  for (int r = 0; r < rows; ++r) {
    params[r].temperature = 0.6f;
    params[r].top_p = 0.95f;
    params[r].seed = static_cast<std::uint64_t>(r);
  }
  time_sampling(state, logits.data(), params);
}
BENCHMARK(BM_TopPSample)
    ->ArgsProduct({{1, 64}, {4, 1}})
    ->ArgNames({"rows", "spread"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

#else

void BM_MoeKernels(benchmark::State& state) { state.SkipWithError(gpu_unavailable_reason().c_str()); }
BENCHMARK(BM_MoeKernels);

#endif

}  // namespace
}  // namespace rbench::engine
