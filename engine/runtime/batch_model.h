#pragma once
// What the generator drives: a model on some device that keeps each sequence's KV cache and sampler
// itself, so a GPU model keeps caches, logits and sampling on the GPU and hands back only token ids.
// CpuBatchModel adapts the CPU reference Model; engine/cuda's model implements it for the GPU.
//
// Several GPUs fit behind this interface unchanged: a model split by tensor or expert parallelism
// runs one step on every rank and returns the tokens of rank 0 (docs/engine_cuda.md).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/model/config.h"
#include "engine/model/model.h"
#include "engine/runtime/sampling.h"

namespace rbench::engine {

class BatchModel {
 public:
  virtual ~BatchModel() = default;

  virtual const ModelConfig& config() const = 0;

  // One sequence's state on the model's device: its cached positions and its random stream.
  class Sequence {
   public:
    virtual ~Sequence() = default;
    virtual std::size_t length() const = 0;  // positions cached: the next token's position
  };
  virtual std::unique_ptr<Sequence> open_sequence(const SamplingConfig& sampling) = 0;

  // Makes room in the sequence's cache for positions up to new_length. False when the device is out
  // of cache memory for now (the caller frees other sequences and retries); a length beyond what the
  // model can ever hold is a UserError.
  virtual bool reserve(Sequence& sequence, std::size_t new_length) = 0;
  // Forgets every cached position and frees their memory (the sequence was preempted and will be
  // fed again from its first token); its random stream goes on where it was.
  virtual void release(Sequence& sequence) = 0;
  // Most tokens one step may feed in all; a longer prompt is fed in pieces over several steps.
  virtual std::size_t max_step_tokens() const = 0;

  struct Step {
    Sequence* sequence = nullptr;
    std::span<const TokenId> tokens;  // at positions sequence->length() onwards
    bool sample = true;               // draw the next token (false: a prompt piece that is not the last)
  };
  // Feeds every sequence its tokens in one forward pass (reserve() first) and returns each
  // sequence's next token, drawn by its sampler (-1 where sample is false). On an error every
  // sequence's cache is left as it was.
  virtual std::vector<TokenId> step(std::span<const Step> batch) = 0;

  // Logits instead of tokens: of every new position (all_positions) or the last one, [rows, vocab].
  virtual std::vector<cpu::Matrix> logits(std::span<const Step> batch, bool all_positions) = 0;

  // Bytes of weights one decode step of one sequence reads (the batch-1 roofline's numerator).
  virtual std::size_t weight_bytes_per_token() const = 0;
};

// The CPU reference Model behind the BatchModel interface: contiguous caches, Sampler per sequence.
class CpuBatchModel final : public BatchModel {
 public:
  explicit CpuBatchModel(const Model& model) : model_(model) {}
  explicit CpuBatchModel(std::unique_ptr<Model> model) : owned_(std::move(model)), model_(*owned_) {}

  const ModelConfig& config() const override { return model_.config(); }
  std::unique_ptr<Sequence> open_sequence(const SamplingConfig& sampling) override;
  bool reserve(Sequence& sequence, std::size_t new_length) override;
  void release(Sequence& sequence) override;
  std::size_t max_step_tokens() const override;
  std::vector<TokenId> step(std::span<const Step> batch) override;
  std::vector<cpu::Matrix> logits(std::span<const Step> batch, bool all_positions) override;
  std::size_t weight_bytes_per_token() const override { return model_.weight_bytes_per_token(); }

 private:
  std::unique_ptr<Model> owned_;
  const Model& model_;
};

// A checkpoint directory on a device by name: "cpu" (the reference Model) or "cuda" (the CUDA model,
// bf16 weights, up to max_sequences sequences a step). A bad name, a build without CUDA and a
// missing GPU are UserErrors that say so.
std::unique_ptr<BatchModel> open_batch_model(const std::filesystem::path& dir, const std::string& device,
                                             int max_sequences = 256);

}  // namespace rbench::engine
