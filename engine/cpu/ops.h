#pragma once
// Reference CPU kernels in float32: correct first, then fast on a few cores. Each kernel is checked
// against a naive double-precision version in tests/test_cpu_ops.cpp. Matrices are row-major.
#include <cstddef>
#include <span>
#include <vector>

namespace rbench::engine::cpu {

// An owned float32 matrix: activations are [tokens, features], weights [out_features, in_features].
class Matrix {
 public:
  Matrix() = default;
  Matrix(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols), values_(rows * cols) {}

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  float* row(std::size_t r) { return values_.data() + r * cols_; }
  const float* row(std::size_t r) const { return values_.data() + r * cols_; }
  std::span<float> row_span(std::size_t r) { return {row(r), cols_}; }
  std::span<const float> row_span(std::size_t r) const { return {row(r), cols_}; }
  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::vector<float> values_;
};

// A weight matrix [rows, cols] that lives elsewhere: a whole Matrix, or one expert of a stack.
struct WeightView {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
};
inline WeightView view(const Matrix& m) { return {m.row(0), m.rows(), m.cols()}; }
// Rows [first, first + count) of a matrix: expert e of a stack of [experts * count, cols].
inline WeightView view_rows(const Matrix& m, std::size_t first, std::size_t count) {
  return {m.row(first), count, m.cols()};
}

// Multiply-adds below which handing work to another thread costs more than it saves.
constexpr std::size_t min_chunk_work = 32 * 1024;

float dot(const float* a, const float* b, std::size_t n);

// y = x · wᵀ + bias: x [n, in], w [out, in], bias [out] or empty; y becomes [n, out].
// Threads split the output features, so one decode token still uses every core.
void matmul(const Matrix& x, WeightView w, std::span<const float> bias, Matrix& y);
Matrix matmul(const Matrix& x, WeightView w, std::span<const float> bias = {});

// out = x / sqrt(mean(x²) + eps) · weight, for one vector (out may alias x).
void rms_norm(std::span<const float> x, std::span<const float> weight, float eps, std::span<float> out);
// rms_norm of every row of x, each row split into pieces of weight.size() (one per head, or the whole row).
void rms_norm_rows(Matrix& x, std::span<const float> weight, float eps);

float silu(float x);
// out[i] = silu(gate_up[i]) · gate_up[half + i] for each row of [gate | up]; out becomes [n, half].
void swiglu(const Matrix& gate_up, Matrix& out);

// x's columns cut into consecutive pieces of the given widths (which sum to x.cols()).
std::vector<Matrix> split_columns(const Matrix& x, std::span<const std::size_t> widths);

void softmax(std::span<float> x);               // in place, max-subtracted
void sigmoid(std::span<float> x);               // in place
void add_in_place(Matrix& y, const Matrix& x);  // y += x, same shape
void clamp(std::span<float> x, float limit);    // into [-limit, limit]
std::size_t argmax(std::span<const float> x);   // first index of the largest value

// ---- rotary position embedding ----

// How the rotated pairs sit in a head: NeoX's rotate_half pairs (i, i + d/2); interleaved (GPT-J,
// DeepSeek's checkpoints) pairs (2i, 2i + 1).
enum class RopeLayout { half_split, interleaved };

// Rotates the first 2·cos.size() values of head by the angles whose cos/sin are given.
void apply_rope(std::span<float> head, std::span<const float> cos, std::span<const float> sin, RopeLayout layout);

// Inverse frequencies of each rotated pair, θ^(-2i/d), and the scaled variants.
std::vector<double> rope_inv_freq_default(std::size_t rotary_dim, double theta);

struct Llama3RopeScaling {
  double factor = 8;
  double low_freq_factor = 1;
  double high_freq_factor = 4;
  double original_max_positions = 8192;
};
std::vector<double> rope_inv_freq_llama3(std::size_t rotary_dim, double theta, const Llama3RopeScaling& scaling);

struct YarnRopeScaling {
  double factor = 1;
  double original_max_positions = 4096;
  double beta_fast = 32;
  double beta_slow = 1;
  bool truncate = true;  // round the ramp's ends to whole dimensions, as transformers does by default
};
std::vector<double> rope_inv_freq_yarn(std::size_t rotary_dim, double theta, const YarnRopeScaling& scaling);
// YaRN's magnitude correction 0.1·mscale·ln(factor) + 1 (1 when factor ≤ 1).
double yarn_mscale(double factor, double mscale = 1);

// cos/sin of position · inv_freq, each times attention_factor (YaRN scales both).
void rope_cos_sin(std::span<const double> inv_freq, double position, double attention_factor, std::span<float> cos,
                  std::span<float> sin);

// ---- attention ----

// The cached rows of one sequence: position p's row starts at rows[p]; one head reads `width`
// floats from `offset`. Pointers per position let a paged cache serve as well as a contiguous one.
struct CachedRows {
  std::span<const float* const> rows;
  std::size_t offset = 0;
  std::size_t width = 0;
};

// One head of one query: out = Σ_p softmax_p(scale · query·key_p) · value_p over every cached row.
// Causality is the caller's: it passes the rows up to the query's own position.
void attend_head(std::span<const float> query, CachedRows keys, CachedRows values, float scale, std::span<float> out);

// ---- mixture-of-experts routing ----

enum class RouterScore { softmax, sigmoid };
enum class GroupScore { max_expert, sum_of_top2 };  // DeepSeek-V2 group_limited_greedy / V3 noaux_tc

struct RouterSpec {
  RouterScore score = RouterScore::softmax;
  std::size_t top_k = 1;
  std::size_t groups = 1;       // experts split into this many equal groups ...
  std::size_t groups_kept = 1;  // ... of which the best ones are eligible
  GroupScore group_score = GroupScore::max_expert;
  bool normalize = false;  // weights divided by their sum (norm_topk_prob)
  float scale = 1;         // routed_scaling_factor
};

// Picks top_k experts for one token from its router logits. selection_bias (empty or one per
// expert) is added to the scores for choosing only; weights are the unbiased scores.
void route_token(std::span<const float> logits, std::span<const float> selection_bias, const RouterSpec& spec,
                 std::span<std::size_t> experts, std::span<float> weights);

}  // namespace rbench::engine::cpu
