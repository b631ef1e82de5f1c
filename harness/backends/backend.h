#pragma once
// One interface for every way of producing a completion: hosted APIs, replayed files, the built-in engine.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "suites/suite.h"

namespace rbench {

struct SamplingParams {
  double temperature = 0.6;  // DeepSeek-R1 protocol defaults
  double top_p = 0.95;
  int max_tokens = 32768;
  std::optional<uint64_t> seed;  // per-sample seed, derived from the run seed and the sample index
};

struct GenerationRequest {
  std::string problem_id;  // identifies the sample for backends that look answers up (replay)
  int sample_index = 0;
  std::vector<ChatMessage> messages;
  std::string assistant_prefill;     // e.g. "<think>\n": the output continues it
  std::vector<int32_t> prompt_ids;   // alternative to messages, for token-level backends
  SamplingParams sampling;
  const std::atomic<bool>* cancelled = nullptr;  // set by the caller to abandon the request
};

struct TokenUsage {
  int64_t input = 0;
  int64_t cached_input = 0;  // part of `input` served from a prompt cache
  int64_t output = 0;        // all generated tokens, reasoning included
  int64_t reasoning = 0;     // part of `output` spent in reasoning
};

struct GenerationResult {
  std::string reasoning;      // the <think> text or the API's reasoning_content
  std::string answer;         // the final answer text, outside any <think> block
  TokenUsage usage;
  std::string finish_reason;  // "stop" | "length" | "error" | "cancelled" | what the API said
  double latency_s = 0.0;
  std::optional<double> gpu_seconds;  // for self-hosted runs, where measured
  std::string error;                  // non-empty when the request failed for good
};

struct ModelIdentity {
  std::string name;          // e.g. "deepseek-reasoner"
  std::string backend;       // "openai" | "replay" | "engine"
  std::string location;      // endpoint URL, file or directory
  std::string weights_hash;  // what pins the answers: weights or file content hash ("" if unknown)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual ModelIdentity identity() const = 0;
  // Most requests the backend serves at once; 0 = no limit of its own.
  virtual int max_concurrency() const { return 0; }
  // Thread-safe. Failures of one request come back in `error`; only setup errors throw.
  virtual GenerationResult generate(const GenerationRequest& request) = 0;
};

struct BackendOptions {
  std::string api_key_env = "OPENAI_API_KEY";  // the variable the key is read from; never stored
  int max_retries = 5;
  double request_timeout_s = 1800.0;
  double connect_timeout_s = 10.0;
  double backoff_initial_s = 1.0;
  bool stream = true;
  std::string engine_device = "cpu";  // engine:DIR runs on cpu | cuda
};

// SPEC is "openai:MODEL@URL", "replay:FILE.jsonl" or "engine:DIR". Throws UserError on a bad spec.
std::unique_ptr<Backend> make_backend(const std::string& spec, const BackendOptions& options);

}  // namespace rbench
