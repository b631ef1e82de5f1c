#pragma once
// One head of a row's fused q/k/v projection made ready for attention, by one warp: bias, q/k norm,
// clipping and RoPE. prepare_gqa's kernel runs it for every head of a row; the attention kernel runs it
// for its own heads in decode steps, where it replaces that launch.
#include "engine/cuda/common.cuh"

namespace rbench::engine::cuda {

enum class GqaPart { query, key, value };

// The projection's heads: the q heads, then the k heads, then the v heads.
__device__ __forceinline__ GqaPart gqa_part(const GqaInputs& in, int head) {
  return head < in.heads ? GqaPart::query : (head < in.heads + in.kv_heads ? GqaPart::key : GqaPart::value);
}

// Head `head` of one row's projection `source` into x (head_dim floats of the warp's own shared
// memory). span_scale: the inverse RMS of the head's whole projection (q or k) for a norm over all of
// it (OLMoE), unused for per-head norms. cos, sin: the row's `pairs` angles. x is complete for the
// whole warp when it returns.
__device__ inline void prepare_gqa_head(const float* source, const GqaInputs& in, int head, float span_scale,
                                        const float* cos, const float* sin, int pairs, float* x) {
  const int lane = threadIdx.x % 32;
  const int d = in.head_dim;
  const GqaPart part = gqa_part(in, head);
  // The head's loads all issued before any is used: up to 256 dims in one round trip.
  constexpr int kPerLane = 8;
  float squares = 0;
  for (int base = 0; base < d; base += 32 * kPerLane) {
    float loaded[kPerLane];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = head * d + base + lane + 32 * j;
      loaded[j] = base + lane + 32 * j < d ? source[i] + (in.qkv_bias != nullptr ? in.qkv_bias[i] : 0.0f) : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = base + lane + 32 * j;
      if (i < d) x[i] = loaded[j];
      squares += loaded[j] * loaded[j];
    }
  }
  if (part != GqaPart::value && in.q_norm != nullptr) {
    const float* weight = part == GqaPart::query ? in.q_norm : in.k_norm;
    const int first = part == GqaPart::query ? head * d : (head - in.heads) * d;  // its place in its projection
    const float scale =
        in.norm_per_head ? rsqrtf(warp_sum(squares) / static_cast<float>(d) + in.norm_eps) : span_scale;
    for (int i = lane; i < d; i += 32) x[i] *= scale * weight[in.norm_per_head ? i : first + i];
  }
  if (in.clip > 0) {
    for (int i = lane; i < d; i += 32) x[i] = fminf(fmaxf(x[i], -in.clip), in.clip);
  }
  __syncwarp();
  if (part != GqaPart::value) {
    for (int i = lane; i < pairs; i += 32) {  // NeoX halves (i, i + pairs)
      const float a = x[i];
      const float b = x[i + pairs];
      x[i] = a * cos[i] - b * sin[i];
      x[i + pairs] = b * cos[i] + a * sin[i];
    }
    __syncwarp();
  }
}

}  // namespace rbench::engine::cuda
