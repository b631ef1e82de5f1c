#pragma once
// The engine's request API: submit prompt ids with sampling parameters, stream tokens, cancel, wait.
// One scheduler thread batches whatever is running: every step it admits waiting requests (their
// prefill joins the step, in pieces when a prompt is longer than the model's step budget), decodes
// all running sequences in one forward pass, and retires finished ones (continuous batching). When
// the device runs out of KV-cache memory, the most recently admitted sequence is preempted: its cache
// is freed and it is fed again later from its prompt and the tokens it has made.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/runtime/batch_model.h"
#include "engine/runtime/sampling.h"
#include "engine/tokenizer/tokenizer.h"

namespace rbench::engine {

struct GenerationParams {
  SamplingConfig sampling;
  int max_new_tokens = 256;
  std::vector<int32_t> stop_token_ids;   // EOS and friends; ignored with ignore_eos
  std::vector<std::string> stop_strings;  // needs a tokenizer; the stop string is cut from the text
  bool ignore_eos = false;
  const std::atomic<bool>* cancelled = nullptr;  // checked every step, like cancel()
};

struct Completion {
  std::vector<int32_t> tokens;  // new tokens (a stop token is included, a stop string's tokens too)
  std::string text;             // decoded new text, without a matched stop string ("" without tokenizer)
  std::string finish_reason;    // "stop" | "length" | "cancelled" | "error"
  std::string error;
  int prompt_tokens = 0;
  double queue_s = 0.0;         // submitted -> admitted
  double run_s = 0.0;           // admitted -> finished
};

// Called on the scheduler thread for every new token, with the text it completed (may be "").
using TokenCallback = std::function<void(int32_t token, const std::string& text)>;

struct GeneratorOptions {
  int max_batch = 32;  // sequences decoded together
};

class Generator {
 public:
  // `tokenizer` may be null: then no text and no stop strings. The model must outlive the generator.
  Generator(BatchModel& model, const Tokenizer* tokenizer, GeneratorOptions options = {});
  // The CPU reference model.
  Generator(const Model& model, const Tokenizer* tokenizer, GeneratorOptions options = {});
  ~Generator();  // cancels what is still running
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  using RequestId = uint64_t;
  RequestId submit(std::vector<int32_t> prompt, GenerationParams params, TokenCallback on_token = {});
  void cancel(RequestId id);
  Completion wait(RequestId id);  // blocks until the request finishes; each id is waited for once

  // Convenience: submit + wait.
  Completion generate(std::vector<int32_t> prompt, GenerationParams params);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace rbench::engine
