// Every CPU kernel against a naive double-precision version of the same formula, on random inputs
// of awkward sizes (odd lengths, one row, more rows than threads).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numbers>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/cpu/thread_pool.h"
#include "engine/model/kv_cache.h"
#include "engine/model/safetensors.h"

namespace rbench::engine::cpu {
namespace {

std::vector<float> random_values(std::size_t count, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(count);
  for (float& value : values) value = normal(generator);
  return values;
}

Matrix random_matrix(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  Matrix m(rows, cols);
  const std::vector<float> values = random_values(rows * cols, seed);
  std::copy(values.begin(), values.end(), m.values().begin());
  return m;
}

// |a − b| ≤ tolerance · max(1, |b|), elementwise.
void expect_close(std::span<const float> actual, const std::vector<double>& expected, double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::max(1.0, std::abs(expected[i]))) << "at index " << i;
  }
}

TEST(CpuOps, DotMatchesDoubleSumForEveryLengthAroundTheVectorWidth) {
  for (std::size_t n : {0, 1, 7, 15, 16, 17, 33, 1000}) {
    const std::vector<float> a = random_values(n, 1);
    const std::vector<float> b = random_values(n, 2);
    double expected = 0;
    for (std::size_t i = 0; i < n; ++i) expected += static_cast<double>(a[i]) * b[i];
    EXPECT_NEAR(dot(a.data(), b.data(), n), expected, 1e-5 * std::max(1.0, std::sqrt(static_cast<double>(n)))) << n;
  }
}

TEST(CpuOps, MatmulMatchesNaiveProductWithAndWithoutBias) {
  struct Shape {
    std::size_t tokens, in, out;
  };
  for (const Shape shape : {Shape{1, 64, 96}, Shape{5, 33, 7}, Shape{40, 128, 130}, Shape{3, 1, 1}}) {
    const Matrix x = random_matrix(shape.tokens, shape.in, 3);
    const Matrix w = random_matrix(shape.out, shape.in, 4);
    const std::vector<float> bias = random_values(shape.out, 5);
    for (bool with_bias : {false, true}) {
      const Matrix y = matmul(x, view(w), with_bias ? std::span<const float>(bias) : std::span<const float>());
      ASSERT_EQ(y.rows(), shape.tokens);
      ASSERT_EQ(y.cols(), shape.out);
      std::vector<double> expected(shape.tokens * shape.out);
      for (std::size_t t = 0; t < shape.tokens; ++t) {
        for (std::size_t o = 0; o < shape.out; ++o) {
          double sum = with_bias ? bias[o] : 0.0;
          for (std::size_t i = 0; i < shape.in; ++i) sum += static_cast<double>(x.row(t)[i]) * w.row(o)[i];
          expected[t * shape.out + o] = sum;
        }
      }
      expect_close(y.values(), expected, 1e-5);
    }
  }
}

TEST(CpuOps, MatmulOnAnExpertSliceReadsOnlyThoseRows) {
  const Matrix stack = random_matrix(3 * 10, 16, 6);  // three experts of [10, 16]
  const Matrix x = random_matrix(2, 16, 7);
  const Matrix y = matmul(x, view_rows(stack, 10, 10));
  for (std::size_t t = 0; t < 2; ++t) {
    for (std::size_t o = 0; o < 10; ++o) {
      EXPECT_FLOAT_EQ(y.row(t)[o], dot(x.row(t), stack.row(10 + o), 16));
    }
  }
}

TEST(CpuOps, SplitColumnsCutsEveryRowInOrder) {
  const Matrix x = random_matrix(3, 9, 17);
  const std::vector<std::size_t> widths = {4, 0, 5};
  const std::vector<Matrix> pieces = split_columns(x, widths);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[1].cols(), 0u);
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t c = 0; c < 4; ++c) EXPECT_EQ(pieces[0].row(r)[c], x.row(r)[c]);
    for (std::size_t c = 0; c < 5; ++c) EXPECT_EQ(pieces[2].row(r)[c], x.row(r)[4 + c]);
  }
}

TEST(CpuOps, RmsNormMatchesDoubleFormula) {
  const std::vector<float> x = random_values(37, 8, 3.0f);
  const std::vector<float> weight = random_values(37, 9);
  std::vector<float> out(37);
  rms_norm(x, weight, 1e-6f, out);
  double mean_square = 0;
  for (float v : x) mean_square += static_cast<double>(v) * v / 37.0;
  std::vector<double> expected(37);
  for (std::size_t i = 0; i < 37; ++i) expected[i] = x[i] / std::sqrt(mean_square + 1e-6) * weight[i];
  expect_close(out, expected, 1e-6);
}

TEST(CpuOps, RmsNormRowsNormalisesEachHeadOnItsOwn) {
  Matrix x = random_matrix(3, 12, 10);
  const Matrix original = x;
  const std::vector<float> weight = random_values(4, 11);  // three heads of four per row
  rms_norm_rows(x, weight, 1e-6f);
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t head = 0; head < 3; ++head) {
      std::vector<float> expected(4);
      rms_norm(original.row_span(r).subspan(head * 4, 4), weight, 1e-6f, expected);
      for (std::size_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(x.row(r)[head * 4 + i], expected[i]);
    }
  }
}

TEST(CpuOps, SwigluIsSiluOfGateTimesUp) {
  const Matrix gate_up = random_matrix(2, 10, 12);
  Matrix out;
  swiglu(gate_up, out);
  ASSERT_EQ(out.cols(), 5u);
  std::vector<double> expected;
  for (std::size_t r = 0; r < 2; ++r) {
    for (std::size_t i = 0; i < 5; ++i) {
      const double gate = gate_up.row(r)[i];
      expected.push_back(gate / (1.0 + std::exp(-gate)) * gate_up.row(r)[5 + i]);
    }
  }
  expect_close(out.values(), expected, 1e-6);
}

TEST(CpuOps, SoftmaxIsStableForLargeLogitsAndSigmoidIsLogistic) {
  std::vector<float> x = {1000.0f, 999.0f, -1000.0f, 998.5f};
  softmax(x);
  const double denominator = 1 + std::exp(-1.0) + std::exp(-1.5);
  expect_close(x, {1 / denominator, std::exp(-1.0) / denominator, 0.0, std::exp(-1.5) / denominator}, 1e-6);

  std::vector<float> y = {-3.0f, 0.0f, 2.5f};
  sigmoid(y);
  expect_close(y, {1 / (1 + std::exp(3.0)), 0.5, 1 / (1 + std::exp(-2.5))}, 1e-6);
}

TEST(CpuOps, RopeRotatesHalfSplitAndInterleavedPairs) {
  const std::vector<float> head = random_values(10, 13);  // rotary 8 of 10 dims
  const std::vector<double> angles = {0.3, -1.1, 2.0, 0.05};
  std::vector<float> cos, sin;
  for (double angle : angles) {
    cos.push_back(static_cast<float>(std::cos(angle)));
    sin.push_back(static_cast<float>(std::sin(angle)));
  }
  std::vector<float> half_split = head;
  apply_rope(half_split, cos, sin, RopeLayout::half_split);
  std::vector<float> interleaved = head;
  apply_rope(interleaved, cos, sin, RopeLayout::interleaved);
  std::vector<double> expected_half(head.begin(), head.end());
  std::vector<double> expected_interleaved(head.begin(), head.end());
  for (std::size_t i = 0; i < 4; ++i) {
    // x·e^{iθ} on the complex number (first, second) of each pair.
    auto rotate = [&](std::size_t first, std::size_t second, std::vector<double>& out) {
      out[first] = head[first] * std::cos(angles[i]) - head[second] * std::sin(angles[i]);
      out[second] = head[second] * std::cos(angles[i]) + head[first] * std::sin(angles[i]);
    };
    rotate(i, i + 4, expected_half);
    rotate(2 * i, 2 * i + 1, expected_interleaved);
  }
  expect_close(half_split, expected_half, 1e-6);
  expect_close(interleaved, expected_interleaved, 1e-6);
}

TEST(CpuOps, RopeCosSinScaleByTheAttentionFactor) {
  const std::vector<double> inv_freq = {1.0, 0.01};
  std::vector<float> cos(2), sin(2);
  rope_cos_sin(inv_freq, 7.0, 1.5, cos, sin);
  expect_close(cos, {1.5 * std::cos(7.0), 1.5 * std::cos(0.07)}, 1e-6);
  expect_close(sin, {1.5 * std::sin(7.0), 1.5 * std::sin(0.07)}, 1e-6);
}

TEST(CpuOps, DefaultAndLinearFrequencies) {
  const std::vector<double> inv_freq = rope_inv_freq_default(8, 10000.0);
  ASSERT_EQ(inv_freq.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(inv_freq[i], std::pow(10000.0, -2.0 * i / 8.0));
}

TEST(CpuOps, Llama3FrequenciesKeepShortWavelengthsAndSlowLongOnes) {
  const Llama3RopeScaling scaling{8, 1, 4, 8192};
  const std::vector<double> base = rope_inv_freq_default(128, 500000.0);
  const std::vector<double> scaled = rope_inv_freq_llama3(128, 500000.0, scaling);
  for (std::size_t i = 0; i < base.size(); ++i) {
    const double wavelength = 2 * std::numbers::pi / base[i];
    double expected = base[i];
    if (wavelength > 8192.0) {
      expected = base[i] / 8;
    } else if (wavelength >= 8192.0 / 4) {
      const double smooth = (8192.0 / wavelength - 1) / (4 - 1);
      expected = (1 - smooth) * base[i] / 8 + smooth * base[i];
    }
    EXPECT_NEAR(scaled[i], expected, 1e-12 * base[i]) << i;
  }
  EXPECT_EQ(scaled.front(), base.front());
  EXPECT_DOUBLE_EQ(scaled.back(), base.back() / 8);
}

TEST(CpuOps, YarnFrequenciesRampFromExtrapolationToInterpolation) {
  const YarnRopeScaling scaling{40, 4096, 32, 1, true};
  const std::size_t dim = 64;
  const double theta = 10000;
  const std::vector<double> base = rope_inv_freq_default(dim, theta);
  const std::vector<double> scaled = rope_inv_freq_yarn(dim, theta, scaling);
  // The correction range [low, high] of dimensions: below low keep base, above high use base / factor.
  auto correction_dim = [&](double rotations) {
    return dim * std::log(4096 / (rotations * 2 * std::numbers::pi)) / (2 * std::log(theta));
  };
  const double low = std::max(0.0, std::floor(correction_dim(32)));
  const double high = std::min(static_cast<double>(dim - 1), std::ceil(correction_dim(1)));
  for (std::size_t i = 0; i < base.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    EXPECT_NEAR(scaled[i], base[i] * (1 - ramp) + base[i] / 40 * ramp, 1e-12 * base[i]) << i;
  }
  EXPECT_DOUBLE_EQ(yarn_mscale(40, 0.707), 0.1 * 0.707 * std::log(40.0) + 1);
  EXPECT_EQ(yarn_mscale(1, 0.707), 1.0);
}

TEST(CpuOps, AttendHeadMatchesNaiveSoftmaxAttentionOverStridedRows) {
  const std::size_t positions = 9, width = 24, dim = 8, offset = 8;
  const std::vector<float> key_store = random_values(positions * width, 14);
  const std::vector<float> value_store = random_values(positions * width, 15);
  std::vector<const float*> key_rows, value_rows;
  for (std::size_t p = 0; p < positions; ++p) {
    key_rows.push_back(key_store.data() + p * width);
    value_rows.push_back(value_store.data() + p * width);
  }
  const std::vector<float> query = random_values(dim, 16);
  const float scale = 0.35f;
  std::vector<float> out(dim);
  attend_head(query, {key_rows, offset, dim}, {value_rows, offset, dim}, scale, out);

  std::vector<double> scores(positions);
  for (std::size_t p = 0; p < positions; ++p) {
    for (std::size_t i = 0; i < dim; ++i) scores[p] += scale * static_cast<double>(query[i]) * key_rows[p][offset + i];
  }
  const double max_score = *std::max_element(scores.begin(), scores.end());
  double total = 0;
  for (double& s : scores) total += (s = std::exp(s - max_score));
  std::vector<double> expected(dim);
  for (std::size_t p = 0; p < positions; ++p) {
    for (std::size_t i = 0; i < dim; ++i) expected[i] += scores[p] / total * value_rows[p][offset + i];
  }
  expect_close(out, expected, 1e-6);
}

TEST(CpuOps, SoftmaxTopKRoutingWithAndWithoutRenormalisation) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 0.0f, 1.9f};
  std::vector<double> probabilities(logits.begin(), logits.end());
  double total = 0;
  for (double& p : probabilities) total += (p = std::exp(p));
  for (double& p : probabilities) p /= total;
  std::vector<std::size_t> experts(3);
  std::vector<float> weights(3);
  RouterSpec spec;
  spec.top_k = 3;
  route_token(logits, {}, spec, experts, weights);
  EXPECT_EQ(experts, (std::vector<std::size_t>{1, 5, 3}));
  expect_close(weights, {probabilities[1], probabilities[5], probabilities[3]}, 1e-6);

  spec.normalize = true;
  spec.scale = 2.0f;
  route_token(logits, {}, spec, experts, weights);
  const double kept = probabilities[1] + probabilities[5] + probabilities[3];
  expect_close(weights, {2 * probabilities[1] / kept, 2 * probabilities[5] / kept, 2 * probabilities[3] / kept}, 1e-6);
}

TEST(CpuOps, SigmoidRoutingChoosesWithTheBiasButWeighsWithoutIt) {
  const std::vector<float> logits = {2.0f, 0.0f, 1.0f, -1.0f};
  const std::vector<float> bias = {0.0f, 3.0f, 0.0f, 0.0f};  // lifts expert 1 above expert 2
  RouterSpec spec;
  spec.score = RouterScore::sigmoid;
  spec.top_k = 2;
  std::vector<std::size_t> experts(2);
  std::vector<float> weights(2);
  route_token(logits, bias, spec, experts, weights);
  EXPECT_EQ(experts, (std::vector<std::size_t>{1, 0}));
  expect_close(weights, {0.5, 1 / (1 + std::exp(-2.0))}, 1e-6);
}

TEST(CpuOps, GroupLimitedRoutingKeepsTheBestGroups) {
  // Groups {0,1}, {2,3}, {4,5}. By top-2 sum group 1 wins (0.9 + 0.8); by max group 2 wins (0.95).
  const std::vector<float> probabilities = {0.1f, 0.2f, 0.9f, 0.8f, 0.95f, 0.05f};
  std::vector<float> logits;
  for (float p : probabilities) logits.push_back(std::log(p / (1 - p)));  // sigmoid⁻¹
  RouterSpec spec;
  spec.score = RouterScore::sigmoid;
  spec.top_k = 2;
  spec.groups = 3;
  spec.groups_kept = 1;
  spec.group_score = GroupScore::sum_of_top2;
  std::vector<std::size_t> experts(2);
  std::vector<float> weights(2);
  route_token(logits, {}, spec, experts, weights);
  EXPECT_EQ(experts, (std::vector<std::size_t>{2, 3}));

  spec.group_score = GroupScore::max_expert;
  route_token(logits, {}, spec, experts, weights);
  EXPECT_EQ(experts, (std::vector<std::size_t>{4, 5}));
}

TEST(CpuOps, ExpertsOutsideTheKeptGroupsScoreZeroAsInTransformers) {
  // A negative bias pushes the kept group's second expert below 0; the reference's mask fills the
  // other group with 0, so an expert from the dropped group takes the second slot.
  const std::vector<float> logits = {3.0f, 0.0f, 0.0f, 0.0f};
  const std::vector<float> bias = {0.0f, -0.9f, -0.2f, -0.3f};
  RouterSpec spec;
  spec.score = RouterScore::sigmoid;
  spec.top_k = 2;
  spec.groups = 2;
  spec.groups_kept = 1;
  spec.group_score = GroupScore::sum_of_top2;
  std::vector<std::size_t> experts(2);
  std::vector<float> weights(2);
  route_token(logits, bias, spec, experts, weights);
  EXPECT_EQ(experts, (std::vector<std::size_t>{0, 2}));
}

TEST(CpuThreadPool, ParallelForCoversEveryIndexOnceAndNests) {
  std::vector<std::atomic<int>> hits(1001);
  parallel_for(hits.size(), 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      parallel_for(3, 1, [&](std::size_t b, std::size_t e) { hits[i] += static_cast<int>(e - b); });
    }
  });
  for (const auto& hit : hits) EXPECT_EQ(hit.load(), 3);
}

TEST(CpuThreadPool, ParallelForRethrowsABodysException) {
  EXPECT_THROW(parallel_for(100, 1,
                            [](std::size_t begin, std::size_t) {
                              if (begin == 0) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  std::atomic<std::size_t> total{0};
  parallel_for(100, 1, [&](std::size_t begin, std::size_t end) { total += end - begin; });
  EXPECT_EQ(total.load(), 100u);  // the pool still works afterwards
}

TEST(CpuKvCache, ExtendKeepsRowsAndTruncateForgets) {
  ContiguousKvCache cache(2, 3, 5);
  cache.extend(2);
  cache.key(1, 1)[2] = 7.0f;
  cache.value(0, 1)[4] = 9.0f;
  cache.extend(100);
  EXPECT_EQ(cache.length(), 100u);
  EXPECT_EQ(cache.key(1, 1)[2], 7.0f);
  EXPECT_EQ(cache.value(0, 1)[4], 9.0f);
  cache.truncate(1);
  EXPECT_EQ(cache.length(), 1u);
}

TEST(CpuConversions, HalfPrecisionRoundTripsAndRoundsToNearestEven) {
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f)), 1.0f);
  EXPECT_EQ(f16_to_f32(f32_to_f16(-65504.0f)), -65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(65520.0f))));
  EXPECT_EQ(f16_to_f32(f32_to_f16(5.960464477539063e-08f)), 5.960464477539063e-08f);  // smallest subnormal
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 1.0f / 2048)), 1.0f);                        // tie rounds to even
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);          // tie rounds to even (up)
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)), 1.0f);  // tie rounds to even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  // Every f16 value converts exactly to float32 and back.
  for (std::uint32_t bits = 0; bits < 0x7c00; ++bits) {
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<std::uint16_t>(bits))), bits);
  }
}

}  // namespace
}  // namespace rbench::engine::cpu
