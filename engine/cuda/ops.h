#pragma once
// The CUDA kernels of the engine, one launcher per op, grouped by op family in norm.cu, rope.cu,
// attention.cu, moe.cu, sampling.cu and elementwise.cu. Pointers are device pointers; every
// launcher enqueues on `stream` and checks the launch. Weights and the KV cache are of type W
// (bfloat16, or float for the exact reference mode); activations between kernels are float32 except
// where they feed a matrix product, which takes W. tests/test_gpu_ops.cpp checks each op against
// the CPU reference op in engine/cpu.
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "engine/cpu/ops.h"

namespace rbench::engine::cuda {

using bf16 = __nv_bfloat16;

// ---- the rows of one step ----

// Token rows of a forward pass (every sequence's new tokens, concatenated) and where each row's
// sequence keeps its cache: position p of sequence s lives in page pages[page_offset[s] + p / page_size]
// at slot p % page_size. All device pointers.
struct StepRows {
  int rows = 0;
  const int* token = nullptr;        // [rows]
  const int* position = nullptr;     // [rows]
  const int* sequence = nullptr;     // [rows]
  const int* page_offset = nullptr;  // [sequences]
  const int* pages = nullptr;
  int page_size = 16;
  // A decode step: each row is its sequence's one new token, so every cached position but the row's
  // own was written before the step (attention requests those before its inputs are ready).
  bool one_row_per_sequence = false;
};

// One layer's paged cache: row (page, slot) of the keys starts at keys + (page·page_size + slot)·key_row.
// MLA keeps one latent row per position whose first value_width floats are the value: values == keys.
template <class W>
struct LayerCache {
  W* keys = nullptr;
  W* values = nullptr;
  int key_row = 0;    // elements per cached key row (all kv heads)
  int value_row = 0;  // elements per cached value row
};

// ---- elementwise ----

template <class W>
void embed_rows(const W* table, int hidden, const StepRows& rows, float* out, cudaStream_t stream);
// y[r][c] += bias[c] for rows × cols (row stride ld).
void add_bias(float* y, int ld, const float* bias, int rows, int cols, cudaStream_t stream);
// out[r][i] = silu(gate_up[r][i]) · gate_up[r][half + i]; out is [rows, half].
template <class W>
void swiglu(const float* gate_up, int rows, int half, W* out, cudaStream_t stream);
// Uniform values in [offset - scale, offset + scale), a function of (seed, index) only.
template <class W>
void fill_uniform(W* out, std::size_t count, std::uint64_t seed, float scale, float offset, cudaStream_t stream);

// ---- norms ----

// Each row of x ([rows, width], row stride ld) is cut into pieces of weight's length (width, or one
// head); each piece is RMS-normalised and scaled by weight. Row r of the output reads input row
// row_index[r] (null: r). Either output may be null.
template <class W>
void rms_norm(const float* x, int ld, int rows, int width, const float* weight, int piece, float eps,
              const int* row_index, float* out_f32, W* out_w, cudaStream_t stream);

// ---- rotary embedding and attention inputs ----

// cos/sin [rows, pairs] of each row's position times inv_freq (double), scaled by attention_factor.
void rope_angles(const double* inv_freq, int pairs, double attention_factor, const StepRows& rows, float* cos,
                 float* sin, cudaStream_t stream);

struct GqaInputs {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  const float* qkv_bias = nullptr;  // [q + 2 kv widths] or null
  const float* q_norm = nullptr;    // null, one head wide, or the whole q projection
  const float* k_norm = nullptr;
  bool norm_per_head = true;
  float norm_eps = 1e-6f;
  float clip = 0;  // |q|, |k|, |v| ≤ clip when > 0
};
// qkv [rows, (heads + 2 kv_heads)·head_dim] from the fused projection → bias, q/k norm, clip, RoPE
// (half-split layout); writes rotated queries to q [rows, heads·head_dim] and keys and values into
// the cache at each row's position.
template <class W>
void prepare_gqa(const float* qkv, const GqaInputs& in, const float* cos, const float* sin, int pairs,
                 const StepRows& rows, float* q, LayerCache<W> cache, cudaStream_t stream);

struct MlaInputs {
  int heads = 0;
  int nope_dim = 0;
  int rope_dim = 0;
  int latent_dim = 0;
  const float* latent_norm = nullptr;  // kv_a_layernorm [latent_dim]
  float norm_eps = 1e-6f;
  cpu::RopeLayout layout = cpu::RopeLayout::interleaved;
};
// q [rows, heads·(nope + rope)] and kv [rows, latent + rope] (kv_a's output) → the normalised latent
// and rotated shared key go to the cache (one row [latent | rope] per position); each head's nope
// part goes to q_nope [rows, heads·nope] (W, for the absorbed product) and its rotated part to
// q_attention [rows, heads·(latent + rope)] at offset latent.
template <class W>
void prepare_mla(const float* q, const float* kv, const MlaInputs& in, const float* cos, const float* sin,
                 const StepRows& rows, W* q_nope, float* q_attention, LayerCache<W> cache, cudaStream_t stream);

struct AttentionShape {
  int heads = 0;
  int kv_heads = 0;  // query head h reads kv head h / (heads / kv_heads)
  int key_dim = 0;   // per head, in q and in a cached key row
  int value_dim = 0;
  int q_stride = 0;  // floats between rows of q
  float scale = 1;
};
// Splits of the positions each (row, head) is spread over (for paged_attention<W>), and the scratch
// they need (floats).
template <class W>
int attention_splits(const AttentionShape& shape, int rows, int max_positions, int multiprocessors,
                     std::size_t scratch_floats);
std::size_t attention_scratch_floats(const AttentionShape& shape, int rows, int splits);
// Counters the split merge needs: zeroed once when allocated, every launch leaves them at zero.
std::size_t attention_tickets(const AttentionShape& shape, int rows);
// out [rows, heads·value_dim] = softmax(scale · q·kᵀ) v over each row's positions 0..its own
// (causal), read from the paged cache. Head dims: whole 16-byte vectors of W.
template <class W>
void paged_attention(const float* q, const AttentionShape& shape, LayerCache<W> cache, const StepRows& rows, int splits,
                     float* scratch, unsigned* tickets, W* out, cudaStream_t stream);

// ---- mixture of experts ----

struct RouterParams {
  int experts = 0;
  int top_k = 1;
  bool sigmoid = false;  // else softmax
  int groups = 1;
  int groups_kept = 1;
  bool group_by_top2_sum = false;  // else by the best expert
  bool normalize = false;
  float scale = 1;
};
RouterParams router_params(const cpu::RouterSpec& spec, int experts);
// Per token: top_k experts (ids [rows, top_k]) and their weights, as cpu::route_token picks them.
void route_tokens(const float* logits, const float* selection_bias, const RouterParams& params, int rows,
                  int* expert_ids, float* weights, cudaStream_t stream);

// route_tokens for one token straight from its float32 normed row x [hidden] (a multiple of 4) and
// the float32 router [experts, hidden]: the router product (logits [experts] are written too) and
// the routing in one launch — one thread-block cluster where the product fits in 8 blocks, else the
// last block to finish routes, by ticket: one counter, zero before the first call; left at zero.
void route_token_row(const float* x, const float* router, int hidden, const float* selection_bias,
                     const RouterParams& params, float* logits, unsigned* ticket, int* expert_ids, float* weights,
                     cudaStream_t stream);

// The routed (token, slot) assignments grouped by expert: offsets [experts + 1] into `order` (the
// assignments a = token·top_k + slot of each expert, in token order) and slot_of [assignments]: the
// place of each assignment in `order`.
void group_by_expert(const int* expert_ids, int assignments, int experts, int* offsets, int* order, int* slot_of,
                     cudaStream_t stream);

// route_tokens then group_by_expert; up to route_and_group_max_rows tokens in one launch.
constexpr int route_and_group_max_rows = 8;
void route_and_group(const float* logits, const float* selection_bias, const RouterParams& params, int rows,
                     int* expert_ids, float* weights, int* offsets, int* order, int* slot_of, cudaStream_t stream);

// Largest number of an expert's assignments the small-batch expert kernels take in one pass.
constexpr int moe_rows_per_pass = 8;
// act[i] = silu(x·gate_eᵀ) · (x·up_eᵀ) for every assignment i in `order` of expert e, x the
// assignment's token row; gate_up is [experts · 2·intermediate, hidden]. max_rows bounds the rows
// any one expert has (the step's tokens will do): fewer rows, fewer registers, more loads in flight.
template <class W>
void expert_gate_up(const W* x, const W* gate_up, const int* offsets, const int* order, int top_k, int experts,
                    int hidden, int intermediate, int max_rows, W* act, cudaStream_t stream);
// out[i] = act[i] · down_eᵀ; down is [experts · hidden, intermediate].
template <class W>
void expert_down(const W* act, const W* down, const int* offsets, int experts, int hidden, int intermediate,
                 int max_rows, float* out, cudaStream_t stream);
// The same two products when every expert has at most one row (one token): each (assignment,
// column) item is streamed on its own. expert_ids null: one expert (a dense MLP); slot_of null: the
// assignment's own row.
template <class W>
void expert_gate_up_rows(const W* x, const W* gate_up, const int* expert_ids, const int* slot_of, int assignments,
                         int top_k, int hidden, int intermediate, W* act, cudaStream_t stream);
template <class W>
void expert_down_rows(const W* act, const W* down, const int* expert_ids, const int* slot_of, int assignments,
                      int hidden, int intermediate, float* out, cudaStream_t stream);
// One token without a shared expert: hidden_state[c] += Σ_k weights[k] · act[k] · down_{expert_ids[k]}[c]ᵀ,
// act [top_k, intermediate] in slot order (expert_gate_up_rows with slot_of null): the expert down
// products and combine_experts in one launch.
template <class W>
void expert_down_combine_row(const W* act, const W* down, const int* expert_ids, const float* weights, int top_k,
                             int hidden, int intermediate, float* hidden_state, cudaStream_t stream);
// The same two products on the tensor cores (bf16 only), for more than a few rows per expert:
// weights still stream once per 32 rows.
void expert_gate_up_mma(const bf16* x, const bf16* gate_up, const int* offsets, const int* order, int top_k,
                        int experts, int hidden, int intermediate, bf16* act, cudaStream_t stream);
void expert_down_mma(const bf16* act, const bf16* down, const int* offsets, int experts, int hidden, int intermediate,
                     float* out, cudaStream_t stream);
// x_sorted[i] = x[order[i] / top_k] (the large-batch path runs one matrix product per expert).
template <class W>
void gather_assignment_rows(const W* x, const int* order, int assignments, int top_k, int hidden, W* x_sorted,
                            cudaStream_t stream);
// hidden[t] += Σ_slot weight[t][slot] · expert_out[slot_of[t·top_k + slot]] (+ the shared expert's
// output, times sigmoid(x[t]·shared_gate) when a gate is given).
void combine_experts(float* hidden, int rows, int hidden_size, const float* expert_out, const int* slot_of,
                     const float* weights, int top_k, const float* shared_out, const float* shared_gate, const float* x,
                     cudaStream_t stream);

// ---- sampling ----

struct SamplingParams {
  float temperature = 1;  // ≤ 0: greedy
  float top_p = 1;
  float min_p = 0;
  int top_k = 0;
  int greedy = 0;
  std::uint64_t seed = 0;
  std::uint64_t draw = 0;  // which draw of the sequence: its position
};
// One token per row of logits [rows, vocab]: argmax (ties: the lower index; NaN never wins over a
// number), or a draw from the temperature softmax cut to top_k, min_p and top_p (a function of seed
// and draw only). scratch: sampling_scratch_words(rows) words, zero before the first call; every
// call leaves them zero again (so a captured graph can replay it). any_sampled false (every row
// greedy) leaves out the launch that only sampled rows need.
std::size_t sampling_scratch_words(int rows);
void sample_tokens(const float* logits, int rows, int vocab, const SamplingParams* params,
                   unsigned long long* scratch, int* tokens, bool any_sampled, cudaStream_t stream);

}  // namespace rbench::engine::cuda
