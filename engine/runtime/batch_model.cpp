#include "engine/runtime/batch_model.h"

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "engine/cuda/cuda_model.h"

namespace rbench::engine {

namespace {

struct CpuSequence final : BatchModel::Sequence {
  CpuSequence(std::unique_ptr<KvCache> cache_, const SamplingConfig& sampling)
      : cache(std::move(cache_)), sampler(sampling) {}
  std::size_t length() const override { return cache->length(); }

  std::unique_ptr<KvCache> cache;
  Sampler sampler;
};

CpuSequence& cpu_sequence(BatchModel::Sequence* sequence) { return static_cast<CpuSequence&>(*sequence); }

std::vector<SequenceStep> model_steps(std::span<const BatchModel::Step> batch, bool all_positions) {
  std::vector<SequenceStep> steps;
  steps.reserve(batch.size());
  for (const BatchModel::Step& step : batch) {
    steps.push_back({step.tokens, cpu_sequence(step.sequence).cache.get(), all_positions});
  }
  return steps;
}

}  // namespace

std::unique_ptr<BatchModel::Sequence> CpuBatchModel::open_sequence(const SamplingConfig& sampling) {
  return std::make_unique<CpuSequence>(model_.new_cache(), sampling);
}

// A contiguous cache grows in host memory as it goes: there is nothing to reserve.
bool CpuBatchModel::reserve(Sequence&, std::size_t) { return true; }
void CpuBatchModel::release(Sequence& sequence) { cpu_sequence(&sequence).cache = model_.new_cache(); }
std::size_t CpuBatchModel::max_step_tokens() const { return std::numeric_limits<std::size_t>::max(); }

std::vector<TokenId> CpuBatchModel::step(std::span<const Step> batch) {
  const std::vector<cpu::Matrix> logits = model_.forward(model_steps(batch, false));
  std::vector<TokenId> tokens(batch.size(), -1);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].sample) tokens[i] = cpu_sequence(batch[i].sequence).sampler.sample(logits[i].row_span(0));
  }
  return tokens;
}

std::vector<cpu::Matrix> CpuBatchModel::logits(std::span<const Step> batch, bool all_positions) {
  return model_.forward(model_steps(batch, all_positions));
}

std::unique_ptr<BatchModel> open_batch_model(const std::filesystem::path& dir, const std::string& device,
                                             int max_sequences) {
  if (device == "cpu") return std::make_unique<CpuBatchModel>(Model::load(dir));
  if (device == "cuda") {
    cuda::CudaModelOptions options;
    options.max_sequences = std::max(max_sequences, 1);
    return cuda::load_cuda_model(dir, options);
  }
  throw UserError("--device " + device + ": expected cpu or cuda");
}

}  // namespace rbench::engine
