#include "engine/cpu/ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>
#include <numeric>

#include "engine/cpu/thread_pool.h"

namespace rbench::engine::cpu {

// The hot loops below are compiled for AVX-512 and AVX2+FMA as well as the baseline, and the loader
// picks the best the CPU runs: the build flags stay portable, and the same binary runs several
// times faster on a modern x86 than its SSE2 baseline. Other compilers and CPUs get the baseline,
// and so does ThreadSanitizer, whose runtime is not up yet when the loader calls the selector.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define RBENCH_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RBENCH_VECTOR_CLONES
#endif

namespace {

// y[t][r] = x_t · w_r (+ bias_r) for a block of `tokens` × `rows` dot products. Each loaded x and w
// value is reused across the block, and independent lanes of partial sums let the compiler keep
// them in vector registers without -ffast-math (one running sum would force sequential adds).
template <std::size_t tokens, std::size_t rows>
[[gnu::always_inline]] inline void dot_block(const float* x, std::size_t x_stride, const float* w, std::size_t w_stride,
                                             std::size_t n, const float* bias, float* y, std::size_t y_stride) {
  constexpr std::size_t lanes = 8;
  float partial[tokens][rows][lanes] = {};
  std::size_t k = 0;
  for (; k + lanes <= n; k += lanes) {
    for (std::size_t t = 0; t < tokens; ++t) {
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t l = 0; l < lanes; ++l) partial[t][r][l] += x[t * x_stride + k + l] * w[r * w_stride + k + l];
      }
    }
  }
  for (std::size_t t = 0; t < tokens; ++t) {
    for (std::size_t r = 0; r < rows; ++r) {
      float sum = bias ? bias[r] : 0.0f;
      for (std::size_t l = 0; l < lanes; ++l) sum += partial[t][r][l];
      for (std::size_t i = k; i < n; ++i) sum += x[t * x_stride + i] * w[r * w_stride + i];
      y[t * y_stride + r] = sum;
    }
  }
}

// Every token against weight rows [first, first + rows_per_block): two tokens at a time.
template <std::size_t rows_per_block>
[[gnu::always_inline]] inline void block_for_all_tokens(const Matrix& x, WeightView w, const float* bias, Matrix& y,
                                                        std::size_t first) {
  const std::size_t in = w.cols;
  const float* weights = w.data + first * in;
  const float* block_bias = bias ? bias + first : nullptr;
  std::size_t t = 0;
  for (; t + 2 <= x.rows(); t += 2) {
    dot_block<2, rows_per_block>(x.row(t), in, weights, in, in, block_bias, y.row(t) + first, y.cols());
  }
  if (t < x.rows()) dot_block<1, rows_per_block>(x.row(t), in, weights, in, in, block_bias, y.row(t) + first, y.cols());
}

constexpr std::size_t rows_per_tile = 8;

// Output features of tiles [first_tile, end_tile). A tile of weight rows stays in cache while every
// token passes over it, so a prefill reads the weights from memory once rather than once per token.
// Several tokens are bound by arithmetic, and 2 tokens × 8 rows reuse every load; one token
// (decoding) is bound by memory, and one row at a time, a single sequential stream, reads fastest
// (about 1.8x the bandwidth of four interleaved rows, measured on an AMD EPYC core).
RBENCH_VECTOR_CLONES void matmul_tiles(const Matrix& x, WeightView w, const float* bias, Matrix& y,
                                       std::size_t first_tile, std::size_t end_tile) {
  const bool one_token = x.rows() == 1;
  for (std::size_t tile = first_tile; tile < end_tile; ++tile) {
    const std::size_t first = tile * rows_per_tile;
    if (!one_token && first + rows_per_tile <= w.rows) {
      block_for_all_tokens<rows_per_tile>(x, w, bias, y, first);
    } else {
      for (std::size_t row = first; row < std::min(w.rows, first + rows_per_tile); ++row) {
        block_for_all_tokens<1>(x, w, bias, y, row);
      }
    }
  }
}

}  // namespace

RBENCH_VECTOR_CLONES float dot(const float* a, const float* b, std::size_t n) {
  float result = 0;
  dot_block<1, 1>(a, 0, b, 0, n, nullptr, &result, 0);
  return result;
}

void matmul(const Matrix& x, WeightView w, std::span<const float> bias, Matrix& y) {
  assert(x.cols() == w.cols && (bias.empty() || bias.size() == w.rows));
  if (y.rows() != x.rows() || y.cols() != w.rows) y = Matrix(x.rows(), w.rows);
  const float* bias_data = bias.empty() ? nullptr : bias.data();
  const std::size_t tiles = (w.rows + rows_per_tile - 1) / rows_per_tile;
  // Threads split the output features, so one decoding token still uses every core; a chunk of
  // at least min_chunk_work multiply-adds keeps small matrices from paying for the hand-off.
  const std::size_t tile_work = std::max<std::size_t>(1, x.rows() * w.cols * rows_per_tile);
  parallel_for(tiles, (min_chunk_work + tile_work - 1) / tile_work,
               [&](std::size_t begin, std::size_t end) { matmul_tiles(x, w, bias_data, y, begin, end); });
}

Matrix matmul(const Matrix& x, WeightView w, std::span<const float> bias) {
  Matrix y(x.rows(), w.rows);
  matmul(x, w, bias, y);
  return y;
}

void rms_norm(std::span<const float> x, std::span<const float> weight, float eps, std::span<float> out) {
  assert(x.size() == weight.size() && out.size() == x.size());
  double sum_of_squares = 0;
  for (float value : x) sum_of_squares += static_cast<double>(value) * value;
  const float inverse_rms = static_cast<float>(1.0 / std::sqrt(sum_of_squares / static_cast<double>(x.size()) + eps));
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inverse_rms * weight[i];
}

void rms_norm_rows(Matrix& x, std::span<const float> weight, float eps) {
  assert(!weight.empty() && x.cols() % weight.size() == 0);
  for (std::size_t r = 0; r < x.rows(); ++r) {
    for (std::size_t offset = 0; offset < x.cols(); offset += weight.size()) {
      const std::span<float> piece = x.row_span(r).subspan(offset, weight.size());
      rms_norm(piece, weight, eps, piece);
    }
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

void swiglu(const Matrix& gate_up, Matrix& out) {
  assert(gate_up.cols() % 2 == 0);
  const std::size_t half = gate_up.cols() / 2;
  if (out.rows() != gate_up.rows() || out.cols() != half) out = Matrix(gate_up.rows(), half);
  for (std::size_t r = 0; r < gate_up.rows(); ++r) {
    const float* gate = gate_up.row(r);
    const float* up = gate + half;
    float* result = out.row(r);
    for (std::size_t i = 0; i < half; ++i) result[i] = silu(gate[i]) * up[i];
  }
}

std::vector<Matrix> split_columns(const Matrix& x, std::span<const std::size_t> widths) {
  std::vector<Matrix> pieces;
  std::size_t offset = 0;
  for (std::size_t width : widths) {
    Matrix piece(x.rows(), width);
    for (std::size_t r = 0; r < x.rows(); ++r) std::copy_n(x.row(r) + offset, width, piece.row(r));
    pieces.push_back(std::move(piece));
    offset += width;
  }
  assert(offset == x.cols());
  return pieces;
}

void softmax(std::span<float> x) {
  if (x.empty()) return;
  const float max_value = *std::max_element(x.begin(), x.end());
  double sum = 0;
  for (float& value : x) {
    value = std::exp(value - max_value);
    sum += value;
  }
  const float inverse = static_cast<float>(1.0 / sum);
  for (float& value : x) value *= inverse;
}

void sigmoid(std::span<float> x) {
  for (float& value : x) value = 1.0f / (1.0f + std::exp(-value));
}

void add_in_place(Matrix& y, const Matrix& x) {
  assert(y.rows() == x.rows() && y.cols() == x.cols());
  const std::span<float> target = y.values();
  const std::span<const float> source = x.values();
  for (std::size_t i = 0; i < target.size(); ++i) target[i] += source[i];
}

void clamp(std::span<float> x, float limit) {
  for (float& value : x) value = std::clamp(value, -limit, limit);
}

std::size_t argmax(std::span<const float> x) {
  return static_cast<std::size_t>(std::max_element(x.begin(), x.end()) - x.begin());
}

// ---- rotary position embedding ----

void apply_rope(std::span<float> head, std::span<const float> cos, std::span<const float> sin, RopeLayout layout) {
  const std::size_t pairs = cos.size();
  assert(sin.size() == pairs && head.size() >= 2 * pairs);
  for (std::size_t i = 0; i < pairs; ++i) {
    const std::size_t first = layout == RopeLayout::half_split ? i : 2 * i;
    const std::size_t second = layout == RopeLayout::half_split ? i + pairs : 2 * i + 1;
    const float a = head[first];
    const float b = head[second];
    head[first] = a * cos[i] - b * sin[i];
    head[second] = b * cos[i] + a * sin[i];
  }
}

std::vector<double> rope_inv_freq_default(std::size_t rotary_dim, double theta) {
  std::vector<double> inv_freq(rotary_dim / 2);
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(rotary_dim));
  }
  return inv_freq;
}

std::vector<double> rope_inv_freq_llama3(std::size_t rotary_dim, double theta, const Llama3RopeScaling& scaling) {
  // Long wavelengths (beyond the original context) are slowed by `factor`, short ones kept, and the
  // band between them blended smoothly.
  const double low_freq_wavelength = scaling.original_max_positions / scaling.low_freq_factor;
  const double high_freq_wavelength = scaling.original_max_positions / scaling.high_freq_factor;
  std::vector<double> inv_freq = rope_inv_freq_default(rotary_dim, theta);
  for (double& frequency : inv_freq) {
    const double wavelength = 2 * std::numbers::pi / frequency;
    if (wavelength < high_freq_wavelength) continue;
    if (wavelength > low_freq_wavelength) {
      frequency /= scaling.factor;
      continue;
    }
    const double smooth = (scaling.original_max_positions / wavelength - scaling.low_freq_factor) /
                          (scaling.high_freq_factor - scaling.low_freq_factor);
    frequency = (1 - smooth) * frequency / scaling.factor + smooth * frequency;
  }
  return inv_freq;
}

namespace {

// The dimension whose wavelength fits num_rotations times into max_positions.
double yarn_correction_dim(double num_rotations, std::size_t dim, double theta, double max_positions) {
  return static_cast<double>(dim) * std::log(max_positions / (num_rotations * 2 * std::numbers::pi)) /
         (2 * std::log(theta));
}

}  // namespace

std::vector<double> rope_inv_freq_yarn(std::size_t rotary_dim, double theta, const YarnRopeScaling& scaling) {
  // Dimensions that rotate many times within the original context keep their frequency
  // (extrapolation), slow ones are interpolated by `factor`, with a linear ramp in between.
  double low = yarn_correction_dim(scaling.beta_fast, rotary_dim, theta, scaling.original_max_positions);
  double high = yarn_correction_dim(scaling.beta_slow, rotary_dim, theta, scaling.original_max_positions);
  if (scaling.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(rotary_dim - 1));
  if (low == high) high += 0.001;  // avoid a zero-width ramp
  const std::vector<double> extrapolated = rope_inv_freq_default(rotary_dim, theta);
  std::vector<double> inv_freq(extrapolated.size());
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double extrapolation_weight = 1 - ramp;
    const double interpolated = extrapolated[i] / scaling.factor;
    inv_freq[i] = interpolated * (1 - extrapolation_weight) + extrapolated[i] * extrapolation_weight;
  }
  return inv_freq;
}

double yarn_mscale(double factor, double mscale) {
  if (factor <= 1) return 1.0;
  return 0.1 * mscale * std::log(factor) + 1.0;
}

void rope_cos_sin(std::span<const double> inv_freq, double position, double attention_factor, std::span<float> cos,
                  std::span<float> sin) {
  assert(cos.size() == inv_freq.size() && sin.size() == inv_freq.size());
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    const double angle = position * inv_freq[i];
    cos[i] = static_cast<float>(std::cos(angle) * attention_factor);
    sin[i] = static_cast<float>(std::sin(angle) * attention_factor);
  }
}

// ---- attention ----

void attend_head(std::span<const float> query, CachedRows keys, CachedRows values, float scale, std::span<float> out) {
  assert(query.size() == keys.width && out.size() == values.width && keys.rows.size() == values.rows.size());
  thread_local std::vector<float> scores;
  scores.resize(keys.rows.size());
  for (std::size_t p = 0; p < scores.size(); ++p) {
    scores[p] = scale * dot(query.data(), keys.rows[p] + keys.offset, keys.width);
  }
  softmax(scores);
  std::fill(out.begin(), out.end(), 0.0f);
  for (std::size_t p = 0; p < scores.size(); ++p) {
    const float* value = values.rows[p] + values.offset;
    const float weight = scores[p];
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += weight * value[i];
  }
}

// ---- mixture-of-experts routing ----

namespace {

// Indices of the k largest values, largest first (ties: lower index first).
std::vector<std::size_t> top_k_indices(std::span<const float> values, std::size_t k) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  k = std::min(k, order.size());
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
      [&](std::size_t a, std::size_t b) { return values[a] > values[b] || (values[a] == values[b] && a < b); });
  order.resize(k);
  return order;
}

float group_score(std::span<const float> group, GroupScore kind) {
  if (kind == GroupScore::max_expert) return *std::max_element(group.begin(), group.end());
  const std::vector<std::size_t> best = top_k_indices(group, 2);
  float sum = 0;
  for (std::size_t index : best) sum += group[index];
  return sum;
}

// Keeps the experts of the best groups eligible. The others get a choice score of 0, not -inf,
// because transformers masks them that way: with sigmoid scores plus a negative selection bias an
// eligible expert can score below 0, and then the reference picks a masked expert instead.
void mask_to_best_groups(std::span<float> choice, const RouterSpec& spec) {
  const std::size_t group_size = choice.size() / spec.groups;
  std::vector<float> scores(spec.groups);
  for (std::size_t g = 0; g < spec.groups; ++g) {
    scores[g] = group_score(choice.subspan(g * group_size, group_size), spec.group_score);
  }
  std::vector<bool> kept(spec.groups, false);
  for (std::size_t g : top_k_indices(scores, spec.groups_kept)) kept[g] = true;
  for (std::size_t g = 0; g < spec.groups; ++g) {
    if (!kept[g]) std::fill_n(choice.begin() + static_cast<std::ptrdiff_t>(g * group_size), group_size, 0.0f);
  }
}

}  // namespace

void route_token(std::span<const float> logits, std::span<const float> selection_bias, const RouterSpec& spec,
                 std::span<std::size_t> experts, std::span<float> weights) {
  assert(experts.size() == spec.top_k && weights.size() == spec.top_k && spec.groups > 0 &&
         logits.size() % spec.groups == 0 && (selection_bias.empty() || selection_bias.size() == logits.size()));
  std::vector<float> scores(logits.begin(), logits.end());
  if (spec.score == RouterScore::softmax) {
    softmax(scores);
  } else {
    sigmoid(scores);
  }
  std::vector<float> choice = scores;
  for (std::size_t e = 0; e < selection_bias.size(); ++e) choice[e] += selection_bias[e];
  if (spec.groups > 1) mask_to_best_groups(choice, spec);

  const std::vector<std::size_t> chosen = top_k_indices(choice, spec.top_k);
  float sum = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    experts[i] = chosen[i];
    weights[i] = scores[chosen[i]];
    sum += weights[i];
  }
  // The tiny epsilon is DeepSeek's guard against an all-zero sum; it does not move normal sums.
  const float divisor = spec.normalize ? sum + 1e-20f : 1.0f;
  for (float& weight : weights) weight = weight / divisor * spec.scale;
}

}  // namespace rbench::engine::cpu
