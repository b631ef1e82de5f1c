// Each CUDA op against the CPU reference op on random inputs (llama.cpp's test-backend-ops idea):
// attention over the paged cache (prefill rows and split decode rows), routing in all its variants,
// the expert kernels, the weight-streaming matrix product against cuBLAS, and GPU sampling's
// argmax, cuts and draw frequencies. Runs on the GPU machine; elsewhere every test reports SKIPPED.
#include <gtest/gtest.h>

#include <string>

#include "engine/device.h"

#ifdef RBENCH_WITH_CUDA
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <type_traits>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/ops.h"
#include "engine/cuda/paged_kv_cache.h"
#endif

namespace rbench::engine {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (const std::string why = gpu_unavailable_reason(); !why.empty()) GTEST_SKIP() << why

#ifndef RBENCH_WITH_CUDA

TEST(GpuOps, NeedACudaBuild) { SKIP_WITHOUT_GPU(); }

#else

using cuda::DeviceBuffer;

std::vector<float> random_values(std::size_t count, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

double relative_difference(const std::vector<float>& ours, const std::vector<float>& reference) {
  double largest = 0;
  double worst = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(reference[i])));
    worst = std::max(worst, static_cast<double>(std::abs(ours[i] - reference[i])));
  }
  return worst / largest;
}

constexpr int kPages = 256;

// Rows of sequences laid out on the device: tokens at positions [start, start + rows) of each
// sequence, whose pages are consecutive page ids.
struct DeviceStep {
  DeviceBuffer<int> token, position, sequence, page_offset, pages;
  cuda::StepRows rows;

  DeviceStep(const std::vector<std::pair<int, int> >& start_and_rows, int page_size) {
    std::vector<int> positions, sequences, offsets, page_ids;
    int next_page = 0;
    for (std::size_t s = 0; s < start_and_rows.size(); ++s) {
      const auto [start, count] = start_and_rows[s];
      offsets.push_back(static_cast<int>(page_ids.size()));
      // Scattered, distinct page ids, in falling order: a wrong page lookup cannot pass by accident.
      std::vector<int> own;
      for (int p = 0; p < (start + count + page_size - 1) / page_size; ++p)
        own.push_back((next_page++ * 7 + 3) % kPages);
      page_ids.insert(page_ids.end(), own.rbegin(), own.rend());
      for (int i = 0; i < count; ++i) {
        positions.push_back(start + i);
        sequences.push_back(static_cast<int>(s));
      }
    }
    std::vector<int> tokens(positions.size(), 0);
    token = DeviceBuffer<int>::from(tokens);
    position = DeviceBuffer<int>::from(positions);
    sequence = DeviceBuffer<int>::from(sequences);
    page_offset = DeviceBuffer<int>::from(offsets);
    pages = DeviceBuffer<int>::from(page_ids);
    rows = {static_cast<int>(positions.size()),
            token.data(),
            position.data(),
            sequence.data(),
            page_offset.data(),
            pages.data(),
            page_size,
            positions.size() == start_and_rows.size()};  // one row per sequence: a decode step
    host_pages = page_ids;
    host_offsets = offsets;
  }
  std::vector<int> host_pages, host_offsets;

  // Element offset of (sequence, position)'s row in a layer of the cache, as the kernels compute it.
  std::size_t slot(int s, int position, int page_size) const {
    return static_cast<std::size_t>(host_pages[host_offsets[s] + position / page_size]) * page_size +
           position % page_size;
  }
};

struct AttentionCase {
  int heads, kv_heads, key_dim, value_dim, splits;
  std::vector<std::pair<int, int> > sequences;  // (start, rows)
};

// paged_attention<W> on random keys, values and queries against cpu::attend_head, launched twice
// (the split merge's tickets must be back at zero for the second launch). W = bf16: the CPU reads
// the same bf16-rounded keys and values; the kernel rounds queries and probabilities to bf16 too.
template <class W>
void expect_attention_matches_the_cpu(const AttentionCase& c, std::mt19937& rng, double tolerance) {
  const int page_size = 16;
  DeviceStep step(c.sequences, page_size);
  const std::size_t pages = kPages;
  cuda::PagedKvCache<W> cache(1, c.kv_heads * c.key_dim, c.kv_heads * c.value_dim, page_size, pages);
  const cuda::LayerCache<W> layer = cache.layer(0);
  const auto as_stored = [](std::vector<float> v) {
    if constexpr (std::is_same_v<W, cuda::bf16>) {
      for (float& x : v) x = __bfloat162float(__float2bfloat16(x));
    }
    return v;
  };
  // Fill every row the sequences use; keep host copies per (sequence, position).
  std::vector<std::vector<std::vector<float> > > keys(c.sequences.size()), values(c.sequences.size());
  std::vector<W> key_pool(pages * page_size * layer.key_row, W(0.0f)),
      value_pool(pages * page_size * layer.value_row, W(0.0f));
  for (std::size_t s = 0; s < c.sequences.size(); ++s) {
    const int length = c.sequences[s].first + c.sequences[s].second;
    for (int p = 0; p < length; ++p) {
      keys[s].push_back(as_stored(random_values(layer.key_row, rng)));
      values[s].push_back(as_stored(random_values(layer.value_row, rng)));
      const std::size_t slot = step.slot(static_cast<int>(s), p, page_size);
      for (int i = 0; i < layer.key_row; ++i) key_pool[slot * layer.key_row + i] = W(keys[s][p][i]);
      for (int i = 0; i < layer.value_row; ++i) value_pool[slot * layer.value_row + i] = W(values[s][p][i]);
    }
  }
  RBENCH_CUDA_CHECK(cudaMemcpy(layer.keys, key_pool.data(), key_pool.size() * sizeof(W), cudaMemcpyHostToDevice));
  RBENCH_CUDA_CHECK(cudaMemcpy(layer.values, value_pool.data(), value_pool.size() * sizeof(W), cudaMemcpyHostToDevice));
  const int rows = step.rows.rows;
  const std::vector<float> q = random_values(static_cast<std::size_t>(rows) * c.heads * c.key_dim, rng);
  const DeviceBuffer<float> q_device = DeviceBuffer<float>::from(q);
  const cuda::AttentionShape shape{c.heads,     c.kv_heads,          c.key_dim,
                                   c.value_dim, c.heads * c.key_dim, 1.0f / std::sqrt(static_cast<float>(c.key_dim))};
  DeviceBuffer<float> scratch(cuda::attention_scratch_floats(shape, rows, c.splits) + 1);
  DeviceBuffer<unsigned> tickets =
      DeviceBuffer<unsigned>::from(std::vector<unsigned>(cuda::attention_tickets(shape, rows), 0u));
  DeviceBuffer<W> out(static_cast<std::size_t>(rows) * c.heads * c.value_dim);
  const auto attend = [&] {
    cuda::paged_attention<W>(q_device.data(), shape, layer, step.rows, c.splits, scratch.data(), tickets.data(),
                             out.data(), nullptr);
    RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> values(out.size());
    const std::vector<W> raw = out.download();
    for (std::size_t i = 0; i < raw.size(); ++i) values[i] = static_cast<float>(raw[i]);
    return values;
  };
  const std::vector<float> first_launch = attend();
  RBENCH_CUDA_CHECK(cudaMemset(out.data(), 0xff, out.bytes()));  // NaN: every output must be written again
  const std::vector<float> ours = attend();
  EXPECT_EQ(ours, first_launch);
  EXPECT_EQ(tickets.download(), std::vector<unsigned>(tickets.size(), 0u));

  std::vector<float> expected(ours.size());
  int row = 0;
  for (std::size_t s = 0; s < c.sequences.size(); ++s) {
    for (int i = 0; i < c.sequences[s].second; ++i, ++row) {
      const int visible = c.sequences[s].first + i + 1;
      for (int h = 0; h < c.heads; ++h) {
        const int g = h / (c.heads / c.kv_heads);
        std::vector<const float*> key_rows, value_rows;
        for (int p = 0; p < visible; ++p) {
          key_rows.push_back(keys[s][p].data());
          value_rows.push_back(values[s][p].data());
        }
        cpu::attend_head(
            std::span(q).subspan((static_cast<std::size_t>(row) * c.heads + h) * c.key_dim, c.key_dim),
            {key_rows, static_cast<std::size_t>(g * c.key_dim), static_cast<std::size_t>(c.key_dim)},
            {value_rows, static_cast<std::size_t>(g * c.value_dim), static_cast<std::size_t>(c.value_dim)},
            shape.scale,
            std::span(expected).subspan((static_cast<std::size_t>(row) * c.heads + h) * c.value_dim, c.value_dim));
      }
    }
  }
  EXPECT_LT(relative_difference(ours, expected), tolerance)
      << c.heads << " heads over " << c.kv_heads << ", key " << c.key_dim << ", " << c.splits << " splits";
}

TEST(GpuOps, PagedAttentionMatchesTheCpuForPrefillAndSplitDecode) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(7);
  const std::vector<AttentionCase> cases = {
      {4, 2, 16, 16, 1, {{0, 23}, {0, 5}}},       // two prompts
      {12, 2, 128, 128, 7, {{300, 1}, {37, 1}}},  // decode rows, split
      {4, 1, 24, 16, 3, {{50, 2}}},               // MLA-like: one kv head, value shorter than key
      {8, 8, 576, 512, 4, {{40, 1}}},             // DeepSeek-V3's latent widths
      {32, 4, 128, 128, 5, {{200, 1}, {64, 1}, {130, 1}}},  // Qwen3-30B-A3B's heads, uneven splits
      {32, 1, 128, 128, 64, {{2000, 1}}},                    // one kv head, two head chunks, most splits
      {6, 2, 128, 128, 1, {{0, 70}}},                         // a prompt of several tiles in one split
  };
  for (const AttentionCase& c : cases) expect_attention_matches_the_cpu<float>(c, rng, 1e-5);
}

// The split policy needs no GPU: it runs in CI too.
TEST(GpuOps, AttentionSplitsGiveEachWarpATileAndFillTheGpu) {
  const cuda::AttentionShape qwen{12, 2, 128, 128, 12 * 128, 0.088f};
  const cuda::AttentionShape latent{16, 1, 576, 512, 16 * 576, 0.04f};
  const std::size_t room = std::size_t{1} << 30;
  // Tensor cores: 8 warps × 32 positions per split at least, about one block per multiprocessor.
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 1, 256, 132, room), 1);
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 1, 257, 132, room), 2);
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 1, 4096, 132, room), 16);
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 1, 32768, 132, room), 64);  // the most
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 64, 4096, 132, room), 2);
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 256, 4096, 132, room), 1);
  // The tiled kernel (float32 weights, MLA widths): two blocks per multiprocessor, a tile per split.
  EXPECT_EQ(cuda::attention_splits<float>(qwen, 1, 256, 132, room), 8);
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(latent, 1, 4096, 132, room), 64);
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(latent, 1, 40, 132, room), 1);
  // No more splits than the scratch holds.
  EXPECT_EQ(cuda::attention_splits<cuda::bf16>(qwen, 1, 4096, 132, cuda::attention_scratch_floats(qwen, 1, 5)), 5);
}

// bf16 heads of 64 or 128 dims take the tensor-core kernel: 8 warps of 32-position tiles per split.
TEST(GpuOps, TensorCoreAttentionMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(11);
  const std::vector<AttentionCase> cases = {
      {12, 2, 128, 128, 1, {{255, 1}}},                      // the 1.5B shape decoding, one split, 8 tiles
      {12, 2, 128, 128, 7, {{300, 1}, {37, 1}}},             // decode rows, split, some splits empty
      {32, 4, 128, 128, 2, {{200, 1}, {64, 1}, {130, 1}}},   // Qwen3-30B-A3B's heads
      {32, 1, 128, 128, 64, {{2000, 1}}},                    // one kv head, two head chunks, most splits
      {6, 2, 128, 128, 1, {{0, 70}, {5, 3}}},                // prompts: rows of every length, masked tiles
      {8, 2, 64, 64, 3, {{600, 2}, {1, 1}}},                 // 64-dim heads, more tiles than warps
      {28, 4, 128, 128, 1, {{17, 1}}},                       // 7 heads per kv head (R1-Distill-Qwen-7B)
  };
  for (const AttentionCase& c : cases) expect_attention_matches_the_cpu<cuda::bf16>(c, rng, 2e-2);
}

TEST(GpuOps, RoutingPicksTheCpusExpertsAndWeights) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(11);
  std::vector<cpu::RouterSpec> specs(4);
  specs[0] = {cpu::RouterScore::softmax, 8, 1, 1, cpu::GroupScore::max_expert, true, 1.0f};    // Qwen3
  specs[1] = {cpu::RouterScore::softmax, 2, 1, 1, cpu::GroupScore::max_expert, false, 1.0f};   // Mixtral-like
  specs[2] = {cpu::RouterScore::sigmoid, 8, 8, 4, cpu::GroupScore::sum_of_top2, true, 2.5f};   // DeepSeek-V3
  specs[3] = {cpu::RouterScore::softmax, 6, 8, 3, cpu::GroupScore::max_expert, false, 16.0f};  // DeepSeek-V2
  const int experts = 64;
  const int rows = 37;
  for (std::size_t which = 0; which < specs.size(); ++which) {
    const cpu::RouterSpec& spec = specs[which];
    const std::vector<float> logits = random_values(static_cast<std::size_t>(rows) * experts, rng, 3.0f);
    std::vector<float> bias;
    if (spec.score == cpu::RouterScore::sigmoid) bias = random_values(experts, rng, 0.5f);
    const DeviceBuffer<float> logits_device = DeviceBuffer<float>::from(logits);
    const DeviceBuffer<float> bias_device = DeviceBuffer<float>::from(bias);
    DeviceBuffer<int> ids(static_cast<std::size_t>(rows) * spec.top_k);
    DeviceBuffer<float> weights(static_cast<std::size_t>(rows) * spec.top_k);
    cuda::route_tokens(logits_device.data(), bias.empty() ? nullptr : bias_device.data(),
                       cuda::router_params(spec, experts), rows, ids.data(), weights.data(), nullptr);
    RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<int> got_ids = ids.download();
    const std::vector<float> got_weights = weights.download();
    for (int r = 0; r < rows; ++r) {
      std::vector<std::size_t> want_ids(spec.top_k);
      std::vector<float> want_weights(spec.top_k);
      cpu::route_token(std::span(logits).subspan(static_cast<std::size_t>(r) * experts, experts), bias, spec, want_ids,
                       want_weights);
      for (std::size_t k = 0; k < spec.top_k; ++k) {
        EXPECT_EQ(got_ids[r * spec.top_k + k], static_cast<int>(want_ids[k])) << "spec " << which << " row " << r;
        EXPECT_NEAR(got_weights[r * spec.top_k + k], want_weights[k], 1e-5f * spec.scale) << "spec " << which;
      }
    }
  }
}

// Token rows routed to experts and the experts' stacked weights ([experts·2·intermediate, hidden]
// gate/up, [experts·hidden, intermediate] down), as the expert kernels take them.
struct RoutedExperts {
  const std::vector<float>& x;
  const std::vector<float>& gate_up;
  const std::vector<float>& down;
  const std::vector<int>& ids;  // [tokens · top_k]
  int top_k, hidden, intermediate;
};

// Every assignment's expert output (row slots[a] of got) against the CPU's SwiGLU MLP of that expert.
void expect_experts_match_cpu(const RoutedExperts& r, const std::vector<float>& got, const std::vector<int>& slots,
                              double tolerance) {
  const std::size_t experts = r.down.size() / (static_cast<std::size_t>(r.hidden) * r.intermediate);
  cpu::Matrix gate_up_matrix(experts * 2 * r.intermediate, r.hidden);
  std::copy(r.gate_up.begin(), r.gate_up.end(), gate_up_matrix.values().begin());
  cpu::Matrix down_matrix(experts * r.hidden, r.intermediate);
  std::copy(r.down.begin(), r.down.end(), down_matrix.values().begin());
  for (std::size_t a = 0; a < r.ids.size(); ++a) {
    const std::size_t e = static_cast<std::size_t>(r.ids[a]);
    cpu::Matrix row(1, r.hidden);
    std::copy_n(r.x.begin() + static_cast<std::ptrdiff_t>(a / r.top_k) * r.hidden, r.hidden, row.values().begin());
    cpu::Matrix activated;
    cpu::swiglu(cpu::matmul(row, cpu::view_rows(gate_up_matrix, e * 2 * r.intermediate, 2 * r.intermediate)),
                activated);
    const cpu::Matrix expected = cpu::matmul(activated, cpu::view_rows(down_matrix, e * r.hidden, r.hidden));
    const std::vector<float> ours(got.begin() + static_cast<std::ptrdiff_t>(slots[a]) * r.hidden,
                                  got.begin() + static_cast<std::ptrdiff_t>(slots[a] + 1) * r.hidden);
    const std::vector<float> reference(expected.values().begin(), expected.values().end());
    EXPECT_LT(relative_difference(ours, reference), tolerance) << "assignment " << a;
  }
}

TEST(GpuOps, ExpertKernelsMatchACpuSwigluPerExpert) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(5);
  const int experts = 6, top_k = 2, hidden = 64, intermediate = 40, rows = 13;
  const std::vector<float> x = random_values(static_cast<std::size_t>(rows) * hidden, rng);
  const std::vector<float> gate_up =
      random_values(static_cast<std::size_t>(experts) * 2 * intermediate * hidden, rng, 0.2f);
  const std::vector<float> down = random_values(static_cast<std::size_t>(experts) * hidden * intermediate, rng, 0.2f);
  std::vector<int> ids;
  std::uniform_int_distribution<int> pick(0, experts - 2);  // the last expert gets no tokens
  for (int r = 0; r < rows; ++r) {
    const int first = pick(rng);
    ids.insert(ids.end(), {first, (first + 1 + r % 3) % (experts - 1)});
  }
  const int assignments = rows * top_k;
  const auto ids_device = DeviceBuffer<int>::from(ids);
  DeviceBuffer<int> offsets(experts + 1), order(assignments), slot_of(assignments);
  cuda::group_by_expert(ids_device.data(), assignments, experts, offsets.data(), order.data(), slot_of.data(), nullptr);
  const auto x_device = DeviceBuffer<float>::from(x);
  const auto gate_up_device = DeviceBuffer<float>::from(gate_up);
  const auto down_device = DeviceBuffer<float>::from(down);
  DeviceBuffer<float> act(static_cast<std::size_t>(assignments) * intermediate);
  DeviceBuffer<float> out(static_cast<std::size_t>(assignments) * hidden);
  cuda::expert_gate_up<float>(x_device.data(), gate_up_device.data(), offsets.data(), order.data(), top_k, experts,
                              hidden, intermediate, rows, act.data(), nullptr);
  cuda::expert_down<float>(act.data(), down_device.data(), offsets.data(), experts, hidden, intermediate, rows,
                           out.data(), nullptr);
  RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<float> got = out.download();
  const std::vector<int> slots = slot_of.download();
  expect_experts_match_cpu({x, gate_up, down, ids, top_k, hidden, intermediate}, got, slots, 1e-5);
}

// 40 tokens over 6 experts (one of them idle): up to 20 rows per expert, so both 16-row tiles of a
// tensor-core pass; bf16 products against the float32 CPU, so a bf16 tolerance (more rows per expert,
// several passes and odd widths: TensorCoreExpertKernelsTakeManyRowsAndOddWidths).
TEST(GpuOps, TensorCoreExpertKernelsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(9);
  const int experts = 6, top_k = 2, hidden = 136, intermediate = 72, rows = 40;
  const auto to_bf16 = [](const std::vector<float>& values) {
    std::vector<cuda::bf16> out;
    for (float v : values) out.push_back(__float2bfloat16(v));
    return out;
  };
  const auto rounded = [](std::vector<float> values) {
    for (float& v : values) v = __bfloat162float(__float2bfloat16(v));
    return values;
  };
  const std::vector<float> x = rounded(random_values(static_cast<std::size_t>(rows) * hidden, rng));
  const std::vector<float> gate_up =
      rounded(random_values(static_cast<std::size_t>(experts) * 2 * intermediate * hidden, rng, 0.2f));
  const std::vector<float> down =
      rounded(random_values(static_cast<std::size_t>(experts) * hidden * intermediate, rng, 0.2f));
  std::vector<int> ids;
  for (int r = 0; r < rows; ++r) ids.insert(ids.end(), {r % 3, 3 + r % 2});  // expert 5 idle
  const int assignments = rows * top_k;
  const auto ids_device = DeviceBuffer<int>::from(ids);
  DeviceBuffer<int> offsets(experts + 1), order(assignments), slot_of(assignments);
  cuda::group_by_expert(ids_device.data(), assignments, experts, offsets.data(), order.data(), slot_of.data(), nullptr);
  const auto x_device = DeviceBuffer<cuda::bf16>::from(to_bf16(x));
  const auto gate_up_device = DeviceBuffer<cuda::bf16>::from(to_bf16(gate_up));
  const auto down_device = DeviceBuffer<cuda::bf16>::from(to_bf16(down));
  DeviceBuffer<cuda::bf16> act(static_cast<std::size_t>(assignments) * intermediate);
  DeviceBuffer<float> out(static_cast<std::size_t>(assignments) * hidden);
  cuda::expert_gate_up_mma(x_device.data(), gate_up_device.data(), offsets.data(), order.data(), top_k, experts, hidden,
                           intermediate, act.data(), nullptr);
  cuda::expert_down_mma(act.data(), down_device.data(), offsets.data(), experts, hidden, intermediate, out.data(),
                        nullptr);
  RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<float> got = out.download();
  const std::vector<int> slots = slot_of.download();
  expect_experts_match_cpu({x, gate_up, down, ids, top_k, hidden, intermediate}, got, slots, 2e-2);
}

TEST(GpuOps, StreamingLinearAgreesWithCublasAndTheCpu) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(3);
  const int out_features = 300;
  // One row also at widths of several segments, the last one partly filled (3000, 5000 floats: 3 and 5).
  for (auto [rows, in_features] : {std::pair{1, 256}, {1, 3000}, {1, 5000}, {3, 256}, {8, 256}}) {
    const std::vector<float> x = random_values(static_cast<std::size_t>(rows) * in_features, rng);
    const std::vector<float> w = random_values(static_cast<std::size_t>(out_features) * in_features, rng);
    const auto x_device = DeviceBuffer<float>::from(x);
    const auto w_device = DeviceBuffer<float>::from(w);
    DeviceBuffer<float> streamed(static_cast<std::size_t>(rows) * out_features);
    DeviceBuffer<float> blas_out(static_cast<std::size_t>(rows) * out_features);
    cuda::small_linear<float>(x_device.data(), in_features, w_device.data(), out_features, in_features, rows,
                              streamed.data(), out_features, false, nullptr);
    RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    {
      cuda::Blas blas(nullptr);
      blas.linear<float, float>(x_device.data(), in_features, w_device.data(), out_features, in_features, rows,
                                blas_out.data(), out_features, 0.0f);
      RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    }
    cpu::Matrix x_matrix(rows, in_features);
    std::copy(x.begin(), x.end(), x_matrix.values().begin());
    const cpu::Matrix expected = cpu::matmul(
        x_matrix, {w.data(), static_cast<std::size_t>(out_features), static_cast<std::size_t>(in_features)});
    const std::vector<float> reference(expected.values().begin(), expected.values().end());
    EXPECT_LT(relative_difference(streamed.download(), reference), 1e-5) << rows << " rows of " << in_features;
    EXPECT_LT(relative_difference(blas_out.download(), reference), 1e-5) << rows << " rows of " << in_features;
  }
}

std::vector<int> sample_many(const std::vector<float>& logits, cuda::SamplingParams params, int draws) {
  const int vocab = static_cast<int>(logits.size());
  std::vector<float> rows;
  std::vector<cuda::SamplingParams> all;
  for (int d = 0; d < draws; ++d) {
    rows.insert(rows.end(), logits.begin(), logits.end());
    params.draw = static_cast<std::uint64_t>(d);
    all.push_back(params);
  }
  const auto logits_device = DeviceBuffer<float>::from(rows);
  const auto params_device = DeviceBuffer<cuda::SamplingParams>::from(all);
  DeviceBuffer<int> tokens(draws);
  auto scratch =
      DeviceBuffer<unsigned long long>::from(std::vector<unsigned long long>(cuda::sampling_scratch_words(draws), 0));
  cuda::sample_tokens(logits_device.data(), draws, vocab, params_device.data(), scratch.data(), tokens.data(), true,
                      nullptr);
  RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
  return tokens.download();
}

TEST(GpuOps, SamplingDrawsInProportionWithinTheCuts) {
  SKIP_WITHOUT_GPU();
  // Probabilities 0.4, 0.3, 0.2, 0.1 at temperature 1, among 2000 tokens of negligible weight.
  std::vector<float> logits(2000, -30.0f);
  const float p[4] = {0.4f, 0.3f, 0.2f, 0.1f};
  const int at[4] = {1500, 7, 999, 42};
  for (int i = 0; i < 4; ++i) logits[at[i]] = std::log(p[i]);
  cuda::SamplingParams greedy;
  greedy.greedy = 1;
  EXPECT_EQ(sample_many(logits, greedy, 3), std::vector<int>(3, 1500));

  cuda::SamplingParams plain;
  plain.seed = 99;
  const int draws = 20000;
  const std::vector<int> tokens = sample_many(logits, plain, draws);
  for (int i = 0; i < 4; ++i) {
    const double share = static_cast<double>(std::count(tokens.begin(), tokens.end(), at[i])) / draws;
    EXPECT_NEAR(share, p[i], 0.015) << "token " << at[i];
  }
  EXPECT_EQ(sample_many(logits, plain, 50), std::vector<int>(tokens.begin(), tokens.begin() + 50))
      << "not reproducible";

  cuda::SamplingParams nucleus = plain;
  nucleus.top_p = 0.65f;  // keeps the 0.4 and 0.3 tokens
  for (int token : sample_many(logits, nucleus, 2000)) EXPECT_TRUE(token == 1500 || token == 7) << token;
  cuda::SamplingParams top_k = plain;
  top_k.top_k = 3;
  for (int token : sample_many(logits, top_k, 2000)) EXPECT_TRUE(token == 1500 || token == 7 || token == 999) << token;
  cuda::SamplingParams min_p = plain;
  min_p.min_p = 0.6f;  // 0.3 / 0.4 = 0.75 stays, 0.2 / 0.4 = 0.5 goes
  for (int token : sample_many(logits, min_p, 2000)) EXPECT_TRUE(token == 1500 || token == 7) << token;
}

// ---- expert kernels: tensor-core passes, odd widths; the fused one-token down product ----

std::vector<cuda::bf16> to_bf16(const std::vector<float>& values) {
  std::vector<cuda::bf16> out;
  out.reserve(values.size());
  for (float v : values) out.push_back(__float2bfloat16(v));
  return out;
}

std::vector<float> bf16_rounded(std::vector<float> values) {
  for (float& v : values) v = __bfloat162float(__float2bfloat16(v));
  return values;
}

// The SwiGLU MLP of expert e (gate_up [experts·2·intermediate, hidden], down [experts·hidden,
// intermediate]) on one row, in float32 on the CPU.
std::vector<float> cpu_expert(const std::vector<float>& gate_up, const std::vector<float>& down, int experts, int e,
                              int hidden, int intermediate, const float* row) {
  cpu::Matrix gate_up_matrix(static_cast<std::size_t>(experts) * 2 * intermediate, hidden);
  std::copy(gate_up.begin(), gate_up.end(), gate_up_matrix.values().begin());
  cpu::Matrix down_matrix(static_cast<std::size_t>(experts) * hidden, intermediate);
  std::copy(down.begin(), down.end(), down_matrix.values().begin());
  cpu::Matrix x(1, hidden);
  std::copy_n(row, hidden, x.values().begin());
  cpu::Matrix activated;
  cpu::swiglu(
      cpu::matmul(x, cpu::view_rows(gate_up_matrix, static_cast<std::size_t>(e) * 2 * intermediate, 2 * intermediate)),
      activated);
  const cpu::Matrix out =
      cpu::matmul(activated, cpu::view_rows(down_matrix, static_cast<std::size_t>(e) * hidden, hidden));
  return {out.values().begin(), out.values().end()};
}

// Expert e gets counts[e] assignments (top_k 2, tokens in shuffled order): 0 to 64 rows per expert,
// so the kernels take one or two 32-row passes with one or both 16-row fragments of a pass in use
// (9, 16: one; 17, 31, 32: both; 33 = 32 + 1, 49 = 32 + 17, 64 = 32 + 32). Hidden and intermediate
// are multiples of 8 but not of the 64-wide K slices or the 32/64-column blocks, and long enough
// that the copy ring wraps (hidden 584: 10 slices) or is never filled (intermediate 88: 2 slices).
TEST(GpuOps, TensorCoreExpertKernelsTakeManyRowsAndOddWidths) {
  SKIP_WITHOUT_GPU();
  struct Case {
    int hidden, intermediate;
    std::vector<int> counts;
  };
  const std::vector<Case> cases = {
      {584, 88, {64, 9, 33, 17, 0, 16, 23}},
      {200, 200, {10, 40, 1, 15, 20}},
      {136, 72, {31, 32, 49, 2, 0, 0, 12}},
  };
  std::mt19937 rng(21);
  for (const Case& c : cases) {
    const int experts = static_cast<int>(c.counts.size());
    const int top_k = 2;
    const int assignments = std::accumulate(c.counts.begin(), c.counts.end(), 0);
    ASSERT_EQ(assignments % top_k, 0);
    const int rows = assignments / top_k;
    std::vector<int> by_expert;  // each expert's id counts[e] times, in order
    for (int e = 0; e < experts; ++e) by_expert.insert(by_expert.end(), c.counts[e], e);
    std::vector<int> token_order(rows);
    std::iota(token_order.begin(), token_order.end(), 0);
    std::shuffle(token_order.begin(), token_order.end(), rng);
    std::vector<int> ids(assignments);
    for (int t = 0; t < rows; ++t) {  // slot s of token token_order[t]: entry t + s·rows
      for (int slot = 0; slot < top_k; ++slot) ids[token_order[t] * top_k + slot] = by_expert[t + slot * rows];
    }
    const std::vector<float> x = bf16_rounded(random_values(static_cast<std::size_t>(rows) * c.hidden, rng));
    const std::vector<float> gate_up =
        bf16_rounded(random_values(static_cast<std::size_t>(experts) * 2 * c.intermediate * c.hidden, rng, 0.2f));
    const std::vector<float> down =
        bf16_rounded(random_values(static_cast<std::size_t>(experts) * c.hidden * c.intermediate, rng, 0.2f));
    const auto ids_device = DeviceBuffer<int>::from(ids);
    DeviceBuffer<int> offsets(experts + 1), order(assignments), slot_of(assignments);
    cuda::group_by_expert(ids_device.data(), assignments, experts, offsets.data(), order.data(), slot_of.data(),
                          nullptr);
    const auto x_device = DeviceBuffer<cuda::bf16>::from(to_bf16(x));
    const auto gate_up_device = DeviceBuffer<cuda::bf16>::from(to_bf16(gate_up));
    const auto down_device = DeviceBuffer<cuda::bf16>::from(to_bf16(down));
    DeviceBuffer<cuda::bf16> act(static_cast<std::size_t>(assignments) * c.intermediate);
    DeviceBuffer<float> out(static_cast<std::size_t>(assignments) * c.hidden);
    cuda::expert_gate_up_mma(x_device.data(), gate_up_device.data(), offsets.data(), order.data(), top_k, experts,
                             c.hidden, c.intermediate, act.data(), nullptr);
    cuda::expert_down_mma(act.data(), down_device.data(), offsets.data(), experts, c.hidden, c.intermediate, out.data(),
                          nullptr);
    RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> got = out.download();
    const std::vector<int> slots = slot_of.download();
    for (int a = 0; a < assignments; ++a) {
      const std::vector<float> reference =
          cpu_expert(gate_up, down, experts, ids[a], c.hidden, c.intermediate,
                     x.data() + static_cast<std::ptrdiff_t>(a / top_k) * c.hidden);
      const std::vector<float> ours(got.begin() + static_cast<std::ptrdiff_t>(slots[a]) * c.hidden,
                                    got.begin() + static_cast<std::ptrdiff_t>(slots[a] + 1) * c.hidden);
      ASSERT_LT(relative_difference(ours, reference), 2e-2)
          << "hidden " << c.hidden << ", intermediate " << c.intermediate << ", assignment " << a << " (expert "
          << ids[a] << " of " << c.counts[ids[a]] << " rows)";
    }
  }
}

// One token: expert_gate_up_rows (activations in slot order) then expert_down_combine_row add
// Σ_k weight_k · expert_k(x) to the residual row. Float32 weights (exact) with odd widths, and bf16
// at Qwen3-30B-A3B's intermediate (768: each warp's 8 rows of 96 vectors over three rounds).
TEST(GpuOps, FusedDownCombineAddsTheWeightedExpertsToTheResidual) {
  SKIP_WITHOUT_GPU();
  struct Case {
    bool bf16;
    int experts, top_k, hidden, intermediate;
  };
  const std::vector<Case> cases = {
      {false, 16, 8, 300, 200},
      {false, 5, 3, 36, 44},
      {false, 40, 32, 64, 8},
      {true, 16, 8, 512, 768},
  };
  std::mt19937 rng(23);
  for (const Case& c : cases) {
    std::vector<float> x = random_values(c.hidden, rng);
    std::vector<float> gate_up =
        random_values(static_cast<std::size_t>(c.experts) * 2 * c.intermediate * c.hidden, rng, 0.2f);
    std::vector<float> down = random_values(static_cast<std::size_t>(c.experts) * c.hidden * c.intermediate, rng, 0.2f);
    if (c.bf16) {
      x = bf16_rounded(x);
      gate_up = bf16_rounded(gate_up);
      down = bf16_rounded(down);
    }
    std::vector<int> ids(c.experts);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    ids.resize(c.top_k);
    const std::vector<float> weights = random_values(c.top_k, rng);
    const std::vector<float> residual = random_values(c.hidden, rng);
    const auto ids_device = DeviceBuffer<int>::from(ids);
    const auto weights_device = DeviceBuffer<float>::from(weights);
    auto hidden_state = DeviceBuffer<float>::from(residual);
    const auto run = [&](auto zero) {
      using W = decltype(zero);
      const auto convert = [&](const std::vector<float>& values) {
        if constexpr (std::is_same_v<W, float>) {
          return values;
        } else {
          return to_bf16(values);
        }
      };
      const auto x_device = DeviceBuffer<W>::from(convert(x));
      const auto gate_up_device = DeviceBuffer<W>::from(convert(gate_up));
      const auto down_device = DeviceBuffer<W>::from(convert(down));
      DeviceBuffer<W> act(static_cast<std::size_t>(c.top_k) * c.intermediate);
      cuda::expert_gate_up_rows<W>(x_device.data(), gate_up_device.data(), ids_device.data(), nullptr, c.top_k,
                                   c.top_k, c.hidden, c.intermediate, act.data(), nullptr);
      cuda::expert_down_combine_row<W>(act.data(), down_device.data(), ids_device.data(), weights_device.data(),
                                       c.top_k, c.hidden, c.intermediate, hidden_state.data(), nullptr);
      RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
    };
    if (c.bf16) {
      run(cuda::bf16{});
    } else {
      run(0.0f);
    }
    std::vector<float> expected = residual;
    for (int k = 0; k < c.top_k; ++k) {
      const std::vector<float> y = cpu_expert(gate_up, down, c.experts, ids[k], c.hidden, c.intermediate, x.data());
      for (int i = 0; i < c.hidden; ++i) expected[i] += weights[k] * y[i];
    }
    EXPECT_LT(relative_difference(hidden_state.download(), expected), c.bf16 ? 2e-2 : 1e-5)
        << c.experts << " experts, top " << c.top_k << ", hidden " << c.hidden << ", intermediate " << c.intermediate;
  }
}

// Top-p at temperature 0.6 over a 151,936-token vocabulary (the R1 protocol's cut), against the kept set
// worked out on the host in double precision: normal logits, peaked (spread 4: the cut's bin holds a
// few tokens) and nearly flat (spread 1: thousands), and a row whose cut falls inside a bin of 16,000
// tokens (more than the last block collects: it searches by passes over the row). Every draw is a kept
// token, the draws repeat, and the most likely token comes up about as often as it should.
TEST(GpuOps, TopPDrawsStayInTheKeptSetOverAWholeVocabulary) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(17);
  const int vocab = 151936;
  const int draws = 200;
  // At temperature 0.6: q 1 for token 0, 0.99 for 8,000 tokens and 0.95 for 8,000 more (one bin,
  // [0.9375, 1)), the rest negligible; top-p 0.5 keeps token 0 and the 0.99 tokens.
  std::vector<float> crowded(vocab, -30.0f);
  crowded[0] = 0.0f;
  for (int i = 1; i <= 16000; ++i) crowded[i] = 0.6f * std::log(i <= 8000 ? 0.99f : 0.95f);
  for (const float spread : {4.0f, 1.0f, 0.0f}) {
    std::vector<float> logits = crowded;
    if (spread > 0) {
      std::normal_distribution<float> normal(0.0f, spread);
      for (float& v : logits) v = normal(rng);
    }
    cuda::SamplingParams params;
    params.temperature = 0.6f;
    params.top_p = spread > 0 ? 0.95f : 0.5f;
    params.seed = 5;
    const float largest = *std::max_element(logits.begin(), logits.end());
    std::vector<double> q(vocab);
    for (int i = 0; i < vocab; ++i) q[i] = std::exp((static_cast<double>(logits[i]) - largest) / 0.6);
    std::vector<double> sorted = q;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    const double total = std::accumulate(sorted.begin(), sorted.end(), 0.0);
    double kept_mass = 0;
    std::size_t kept = 0;
    while (kept < sorted.size() && kept_mass < params.top_p * total) kept_mass += sorted[kept++];
    const double boundary = sorted[kept - 1];

    const std::vector<int> tokens = sample_many(logits, params, draws);
    for (int token : tokens) {
      ASSERT_GE(token, 0);
      ASSERT_LT(token, vocab);
      EXPECT_GE(q[token], boundary * (1 - 1e-4)) << "spread " << spread << ": token " << token << " was cut";
    }
    EXPECT_EQ(sample_many(logits, params, 20), std::vector<int>(tokens.begin(), tokens.begin() + 20))
        << "spread " << spread << ": not reproducible";
    const int top = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const double share = static_cast<double>(std::count(tokens.begin(), tokens.end(), top)) / draws;
    EXPECT_NEAR(share, 1.0 / kept_mass, 0.1) << "spread " << spread << ", " << kept << " tokens kept";
  }
}

// Greedy rows split over many blocks: the argmax of 151,936 logits (float4 loads) and of a
// vocabulary that is not a multiple of 4 (scalar loads), with ties across and within blocks (the
// lower index wins), NaNs (never chosen), -0 against +0 (equal), a row of -inf (index 0), and a
// sampled row in the same launch. Three times, so the scratch must have been left at zero.
TEST(GpuOps, GreedySamplingAcrossBlocksMatchesAFirstMaximumScan) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(29);
  for (const int vocab : {151936, 50001}) {
    const int rows = 7;
    std::vector<float> logits = random_values(static_cast<std::size_t>(rows) * vocab, rng, 10.0f);
    const auto at = [&](int row, int i) -> float& { return logits[static_cast<std::size_t>(row) * vocab + i]; };
    at(0, vocab - 3) = 11.0f;  // the maximum near the end
    at(1, 9000) = at(1, vocab - 9000) = at(1, 9001) = 12.0f;  // ties: 9000 wins
    for (int i = 0; i < vocab; i += 97) at(2, i) = std::nanf("");
    at(2, 77777 % vocab) = 13.0f;
    at(2, 11) = -std::nanf("");
    for (int i = 0; i < vocab; ++i) at(3, i) = -INFINITY;
    for (int i = 0; i < vocab; ++i) at(4, i) = -1.0f - static_cast<float>(i % 5);
    at(4, 20000) = -0.0f;
    at(4, 30000) = 0.0f;  // equal to -0: 20000 wins
    at(5, 0) = INFINITY;
    at(5, vocab - 1) = INFINITY;
    at(6, 4321) = 1e4f;  // the sampled row: one token has all the probability
    std::vector<cuda::SamplingParams> params(rows);
    for (int r = 0; r < rows; ++r) params[r].greedy = 1;
    params[5].greedy = 0;
    params[5].temperature = 0;  // greedy too
    params[6].greedy = 0;
    params[6].seed = 5;
    const auto logits_device = DeviceBuffer<float>::from(logits);
    const auto params_device = DeviceBuffer<cuda::SamplingParams>::from(params);
    auto scratch =
        DeviceBuffer<unsigned long long>::from(std::vector<unsigned long long>(cuda::sampling_scratch_words(rows), 0));
    std::vector<int> want(rows);
    for (int r = 0; r < rows; ++r) {
      int best = 0;
      bool found = false;
      for (int i = 0; i < vocab; ++i) {
        const float v = at(r, i);
        if (std::isnan(v)) continue;
        if (!found || v > at(r, best)) best = i;
        found = true;
      }
      want[r] = best;
    }
    want[6] = 4321;
    ASSERT_EQ(want[1], 9000);
    ASSERT_EQ(want[4], 20000);
    // Twice with the sampled rows' launch (the scratch must be left at zero), then without it (the sampled
    // row takes the one-block search instead, and draws the same token).
    for (const bool any_sampled : {true, true, false}) {
      DeviceBuffer<int> tokens(rows);
      cuda::sample_tokens(logits_device.data(), rows, vocab, params_device.data(), scratch.data(), tokens.data(),
                          any_sampled, nullptr);
      RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_EQ(tokens.download(), want) << "vocab " << vocab << ", any_sampled " << any_sampled;
      EXPECT_EQ(scratch.download(), std::vector<unsigned long long>(cuda::sampling_scratch_words(rows), 0))
          << "scratch not left at zero";
    }
  }
}

// The register router at every width it is compiled for (8 to 384 experts: 1 to 16 per lane, with
// partly filled lanes), through route_tokens and through route_and_group (≤ 8 rows, whose grouping
// must agree with the picks), with logits on a coarse grid so that many scores tie (the lower
// index wins, as on the CPU).
TEST(GpuOps, RegisterRoutingPicksTheCpusExpertsAtEveryWidth) {
  SKIP_WITHOUT_GPU();
  struct Case {
    int experts;
    cpu::RouterSpec spec;
  };
  const std::vector<Case> cases = {
      {8, {cpu::RouterScore::softmax, 2, 1, 1, cpu::GroupScore::max_expert, false, 1.0f}},     // Mixtral
      {60, {cpu::RouterScore::softmax, 4, 1, 1, cpu::GroupScore::max_expert, false, 1.0f}},    // Qwen1.5-MoE
      {128, {cpu::RouterScore::softmax, 8, 1, 1, cpu::GroupScore::max_expert, true, 1.0f}},    // Qwen3
      {160, {cpu::RouterScore::softmax, 6, 8, 3, cpu::GroupScore::max_expert, false, 16.0f}},  // DeepSeek-V2
      {256, {cpu::RouterScore::sigmoid, 8, 8, 4, cpu::GroupScore::sum_of_top2, true, 2.5f}},   // DeepSeek-V3
      {384, {cpu::RouterScore::sigmoid, 8, 1, 1, cpu::GroupScore::max_expert, true, 2.8f}},    // Kimi K2
      {64, {cpu::RouterScore::softmax, 32, 1, 1, cpu::GroupScore::max_expert, false, 1.0f}},   // widest top_k
  };
  std::mt19937 rng(31);
  for (const Case& c : cases) {
    const cpu::RouterSpec& spec = c.spec;
    const int top_k = static_cast<int>(spec.top_k);
    for (const int rows : {1, 5, 8, 37}) {
      std::vector<float> logits = random_values(static_cast<std::size_t>(rows) * c.experts, rng, 3.0f);
      for (float& v : logits) v = std::round(v * 2.0f) / 2.0f;  // 13 distinct values: ties everywhere
      std::vector<float> bias;
      if (spec.score == cpu::RouterScore::sigmoid) {
        bias = random_values(c.experts, rng, 0.5f);
        // Tied choices (same logit, same bias) are the same float on both devices; but top-2 sums of
        // differently composed groups can be equal in exact arithmetic and round apart by an ulp of
        // expf, so group-limited routing keeps biases off the grid.
        if (spec.groups == 1) {
          for (float& v : bias) v = std::round(v * 4.0f) / 4.0f;
        }
      }
      const auto logits_device = DeviceBuffer<float>::from(logits);
      const auto bias_device = DeviceBuffer<float>::from(bias);
      const float* bias_pointer = bias.empty() ? nullptr : bias_device.data();
      const cuda::RouterParams params = cuda::router_params(spec, c.experts);
      const int assignments = rows * top_k;
      DeviceBuffer<int> ids(assignments), offsets(c.experts + 1), order(assignments), slot_of(assignments);
      DeviceBuffer<float> weights(assignments);
      std::vector<std::pair<std::vector<int>, std::vector<float> > > results;
      cuda::route_tokens(logits_device.data(), bias_pointer, params, rows, ids.data(), weights.data(), nullptr);
      RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
      results.emplace_back(ids.download(), weights.download());
      if (rows <= cuda::route_and_group_max_rows) {
        cuda::route_and_group(logits_device.data(), bias_pointer, params, rows, ids.data(), weights.data(),
                              offsets.data(), order.data(), slot_of.data(), nullptr);
        RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
        results.emplace_back(ids.download(), weights.download());
        // The grouping of these picks: each expert's assignments, and slot_of the inverse of order.
        const std::vector<int> got_offsets = offsets.download();
        const std::vector<int> got_order = order.download();
        const std::vector<int> got_slots = slot_of.download();
        const std::vector<int>& got_ids = results.back().first;
        ASSERT_EQ(got_offsets[0], 0);
        ASSERT_EQ(got_offsets[c.experts], assignments);
        for (int e = 0; e < c.experts; ++e) {
          for (int place = got_offsets[e]; place < got_offsets[e + 1]; ++place) {
            EXPECT_EQ(got_ids[got_order[place]], e) << c.experts << " experts, place " << place;
            EXPECT_EQ(got_slots[got_order[place]], place);
          }
        }
      }
      for (const auto& [got_ids, got_weights] : results) {
        for (int r = 0; r < rows; ++r) {
          std::vector<std::size_t> want_ids(top_k);
          std::vector<float> want_weights(top_k);
          cpu::route_token(std::span(logits).subspan(static_cast<std::size_t>(r) * c.experts, c.experts), bias, spec,
                           want_ids, want_weights);
          for (int k = 0; k < top_k; ++k) {
            EXPECT_EQ(got_ids[r * top_k + k], static_cast<int>(want_ids[k]))
                << c.experts << " experts, " << rows << " rows: row " << r << " pick " << k;
            EXPECT_NEAR(got_weights[r * top_k + k], want_weights[k], 1e-5f * spec.scale) << c.experts << " experts";
          }
        }
      }
    }
  }
}

// One token's router product and routing in one launch: the logits against a float64 product, the
// picks against the CPU's routing of those logits, at several widths (1, 2 or 8 warps per expert for
// rows of 200, 1028, 2048 and 7168 floats, some warps with a partial segment or none; the last
// block partly filled; the first four cases fit one cluster, the last two route by ticket), and again
// in a second launch (the ticket must have been left at zero).
TEST(GpuOps, OneLaunchRouterMatchesTheProductAndTheCpuRouting) {
  SKIP_WITHOUT_GPU();
  struct Case {
    int experts, hidden;
    cpu::RouterSpec spec;
  };
  const std::vector<Case> cases = {
      {8, 200, {cpu::RouterScore::softmax, 2, 1, 1, cpu::GroupScore::max_expert, false, 1.0f}},
      {60, 1028, {cpu::RouterScore::softmax, 4, 1, 1, cpu::GroupScore::max_expert, false, 1.0f}},
      {128, 2048, {cpu::RouterScore::softmax, 8, 1, 1, cpu::GroupScore::max_expert, true, 1.0f}},
      {256, 200, {cpu::RouterScore::sigmoid, 8, 8, 4, cpu::GroupScore::sum_of_top2, true, 2.5f}},
      {256, 7168, {cpu::RouterScore::sigmoid, 8, 8, 4, cpu::GroupScore::sum_of_top2, true, 2.5f}},  // 7 of 8 warps
      {384, 1028, {cpu::RouterScore::sigmoid, 8, 1, 1, cpu::GroupScore::max_expert, true, 2.8f}},
  };
  std::mt19937 rng(37);
  for (const Case& c : cases) {
    const int top_k = static_cast<int>(c.spec.top_k);
    const std::vector<float> x = random_values(c.hidden, rng);
    const std::vector<float> router = random_values(static_cast<std::size_t>(c.experts) * c.hidden, rng, 0.1f);
    std::vector<float> bias;
    if (c.spec.score == cpu::RouterScore::sigmoid) bias = random_values(c.experts, rng, 0.5f);
    const auto x_device = DeviceBuffer<float>::from(x);
    const auto router_device = DeviceBuffer<float>::from(router);
    const auto bias_device = DeviceBuffer<float>::from(bias);
    auto ticket = DeviceBuffer<unsigned>::from(std::vector<unsigned>(1, 0u));
    DeviceBuffer<float> logits(c.experts), weights(top_k);
    DeviceBuffer<int> ids(top_k);
    std::vector<int> first_ids;
    for (int launch = 0; launch < 2; ++launch) {
      cuda::route_token_row(x_device.data(), router_device.data(), c.hidden,
                            bias.empty() ? nullptr : bias_device.data(), cuda::router_params(c.spec, c.experts),
                            logits.data(), ticket.data(), ids.data(), weights.data(), nullptr);
      RBENCH_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<float> got_logits = logits.download();
      std::vector<float> want_logits(c.experts);
      for (int e = 0; e < c.experts; ++e) {
        double dot = 0;
        for (int i = 0; i < c.hidden; ++i)
          dot += static_cast<double>(x[i]) * router[static_cast<std::size_t>(e) * c.hidden + i];
        want_logits[e] = static_cast<float>(dot);
      }
      EXPECT_LT(relative_difference(got_logits, want_logits), 1e-5) << c.experts << " experts";
      std::vector<std::size_t> want_ids(top_k);
      std::vector<float> want_weights(top_k);
      cpu::route_token(got_logits, bias, c.spec, want_ids, want_weights);
      const std::vector<int> got_ids = ids.download();
      const std::vector<float> got_weights = weights.download();
      for (int k = 0; k < top_k; ++k) {
        EXPECT_EQ(got_ids[k], static_cast<int>(want_ids[k])) << c.experts << " experts, pick " << k;
        EXPECT_NEAR(got_weights[k], want_weights[k], 1e-5f * c.spec.scale) << c.experts << " experts";
      }
      EXPECT_EQ(ticket.download(), std::vector<unsigned>(1, 0u)) << "ticket not left at zero";
      if (launch == 0) first_ids = got_ids;
      EXPECT_EQ(got_ids, first_ids) << "second launch";
    }
  }
}

#endif

}  // namespace
}  // namespace rbench::engine
