// rbench tokenize | forward | generate: the engine's stable JSON interfaces (DESIGN.md).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "common/error.h"
#include "engine/cuda/cuda_model.h"
#include "engine/device.h"
#include "engine/runtime/batch_model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "harness/cli/commands.h"

namespace rbench::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& text, const char* flag) {
  std::vector<int32_t> ids;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      size_t used = 0;
      const long value = std::stol(item, &used);
      if (used != item.size() || value < 0 || value > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(value));
    } catch (const std::exception&) {
      throw UserError(fmt::format("{}: '{}' is not a token id (expected comma-separated non-negative integers)", flag,
                                  item));
    }
  }
  if (ids.empty()) throw UserError(fmt::format("{}: no token ids given", flag));
  return ids;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The prompt ids of a generate command: --ids, or --prompt encoded (through the chat template with --chat).
// `tokenizer` is only null when --ids is given.
std::vector<int32_t> prompt_ids(const EngineCommand& command, const engine::Tokenizer* tokenizer) {
  if (!command.ids.empty()) return parse_ids(command.ids, "--ids");
  if (!command.chat) return tokenizer->encode(command.prompt, true);
  const auto chat = engine::ChatTemplate::from_tokenizer(*tokenizer);
  const std::vector<engine::ChatTurn> turns = {{"user", command.prompt}};
  return tokenizer->encode(chat.render(turns), true);
}

}  // namespace

int tokenize(const EngineCommand& command) {
  const auto tokenizer = engine::Tokenizer::load(command.tokenizer);
  if (!command.decode_ids.empty()) {
    std::cout << nlohmann::json{{"text", tokenizer.decode(parse_ids(command.decode_ids, "--decode"))}}.dump() << "\n";
    return 0;
  }
  const std::string text = command.text_file.empty() ? command.text : read_text_file(command.text_file);
  std::cout << nlohmann::json{{"ids", tokenizer.encode(text, false)}}.dump() << "\n";
  return 0;
}

int forward(const EngineCommand& command) {
  const auto model = engine::open_batch_model(command.model, command.device, 1);
  const std::vector<int32_t> ids = parse_ids(command.ids, "--ids");
  const auto sequence = model->open_sequence({});
  if (!model->reserve(*sequence, ids.size())) {
    throw UserError(fmt::format("--ids: {} tokens do not fit the device's KV cache", ids.size()));
  }
  const engine::BatchModel::Step step{sequence.get(), ids, true};
  const auto logits = model->logits(std::span(&step, 1), true);
  nlohmann::json rows = nlohmann::json::array();
  for (size_t r = 0; r < logits[0].rows(); ++r) {
    const auto row = logits[0].row_span(r);
    rows.push_back(std::vector<float>(row.begin(), row.end()));
  }
  std::cout << nlohmann::json{{"logits", rows}}.dump() << "\n";
  return 0;
}

int generate(const EngineCommand& command) {
  const auto model = engine::open_batch_model(command.model, command.device, 1);
  const bool needs_tokenizer = command.ids.empty();
  std::optional<engine::Tokenizer> tokenizer;
  if (needs_tokenizer || !command.ignore_eos) {
    try {
      tokenizer = engine::Tokenizer::load(command.model);
    } catch (const UserError&) {
      if (needs_tokenizer) throw;  // with --ids the tokenizer is only for EOS and text
    }
  }
  engine::GenerationParams params;
  params.sampling = {command.greedy, static_cast<float>(command.temperature), static_cast<float>(command.top_p), 0,
                     0.0f, command.seed};
  params.max_new_tokens = command.max_tokens;
  params.ignore_eos = command.ignore_eos;
  if (tokenizer && tokenizer->eos_id()) params.stop_token_ids.push_back(*tokenizer->eos_id());
  if (const auto eos = model->config().eos_token_ids; !eos.empty()) {
    params.stop_token_ids.insert(params.stop_token_ids.end(), eos.begin(), eos.end());
  }

  const engine::Tokenizer* text_tokenizer = tokenizer ? &*tokenizer : nullptr;
  engine::Generator generator(*model, text_tokenizer, {1});
  const engine::Completion completion = generator.generate(prompt_ids(command, text_tokenizer), params);
  if (completion.finish_reason == "error") throw UserError(completion.error);
  nlohmann::json out{{"ids", completion.tokens}, {"finish_reason", completion.finish_reason}};
  if (tokenizer) out["text"] = completion.text;
  std::cout << out.dump() << "\n";
  return 0;
}

// ---- rbench bench ----

namespace {

// Shapes of released models as Hugging Face configs (the peer script hf_generate_baseline.py uses the
// same); weights are random, so nothing is downloaded.
const std::map<std::string, std::string>& known_shapes() {
  static const std::map<std::string, std::string> shapes = {
      {"qwen2-1.5b",  // DeepSeek-R1-Distill-Qwen-1.5B
       R"({"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 1536, "intermediate_size": 8960,
           "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
           "max_position_embeddings": 131072, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
           "tie_word_embeddings": false})"},
      {"qwen2-7b",  // DeepSeek-R1-Distill-Qwen-7B
       R"({"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944,
           "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
           "max_position_embeddings": 131072, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
           "tie_word_embeddings": false})"},
      {"qwen3-30b-a3b",
       R"({"model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144,
           "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
           "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8,
           "norm_topk_prob": true, "max_position_embeddings": 40960, "rope_theta": 1000000.0,
           "rms_norm_eps": 1e-6, "tie_word_embeddings": false, "decoder_sparse_step": 1, "mlp_only_layers": []})"},
  };
  return shapes;
}

std::string canonical_shape(const std::string& name) {
  if (name == "r1-distill-qwen-1.5b") return "qwen2-1.5b";
  if (name == "r1-distill-qwen-7b") return "qwen2-7b";
  return name;
}

std::vector<int> parse_batches(const std::string& text) {
  std::vector<int> batches;
  for (const int32_t value : parse_ids(text, "--batch")) {
    if (value < 1) throw UserError("--batch: batch sizes must be at least 1");
    batches.push_back(value);
  }
  return batches;
}

struct BenchTimes {
  double prefill_s = 0;
  double decode_s = 0;
};

// One prefill step of every prompt (giving each sequence its first token), then gen − 1 decode
// steps of the whole batch, as transformers' generate() does with min_new_tokens = gen: greedy, or
// each sequence sampled with `sampling` and a seed of its own.
BenchTimes run_batch(engine::BatchModel& model, int batch, int prompt, int gen, std::mt19937_64& rng,
                     const engine::SamplingConfig& sampling, const std::function<void()>& after_prefill = {}) {
  using Clock = std::chrono::steady_clock;
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(model.config().vocab_size) - 1);
  std::vector<std::unique_ptr<engine::BatchModel::Sequence>> sequences;
  std::vector<std::vector<int32_t>> feed(batch);
  for (int b = 0; b < batch; ++b) {
    engine::SamplingConfig own = sampling;
    own.seed = sampling.seed + static_cast<uint64_t>(b);
    sequences.push_back(model.open_sequence(own));
    if (!model.reserve(*sequences.back(), static_cast<std::size_t>(prompt + gen))) {
      throw UserError(fmt::format("--batch {}: {} sequences of {} positions do not fit the KV cache", batch, batch,
                                  prompt + gen));
    }
    for (int i = 0; i < prompt; ++i) feed[b].push_back(token(rng));
  }
  const auto step = [&] {
    std::vector<engine::BatchModel::Step> steps;
    for (int b = 0; b < batch; ++b) steps.push_back({sequences[b].get(), feed[b], true});
    const std::vector<int32_t> next = model.step(steps);
    for (int b = 0; b < batch; ++b) feed[b] = {next[b]};
  };
  const auto start = Clock::now();
  step();
  if (after_prefill) after_prefill();
  const auto prefilled = Clock::now();
  for (int g = 1; g < gen; ++g) step();
  const auto done = Clock::now();
  return {std::chrono::duration<double>(prefilled - start).count(),
          std::chrono::duration<double>(done - prefilled).count()};
}

// Bytes a decode step of `batch` sequences must read at least: every weight but the embedding once,
// except the experts no token of the step is routed to. With E experts, k per token and random
// routing, a layer touches E·(1 − (1 − k/E)^batch) of them on average.
double weight_bytes_per_step(const engine::ModelConfig& config, double bytes_per_token, int batch) {
  if (config.num_experts == 0) return bytes_per_token;
  std::size_t moe_layers = 0;
  for (std::size_t layer = 0; layer < config.num_layers; ++layer) moe_layers += config.is_moe_layer(layer) ? 1 : 0;
  const double expert_bytes = 3.0 * static_cast<double>(config.hidden_size * config.moe_intermediate_size) * 2.0;
  const double experts = static_cast<double>(config.num_experts);
  const double k = static_cast<double>(config.experts_per_token);
  const double touched = experts * (1.0 - std::pow(1.0 - k / experts, batch));
  return bytes_per_token + static_cast<double>(moe_layers) * (touched - k) * expert_bytes;
}

// GPU milliseconds per op family of one decode step, averaged over a few steps run without graphs.
nlohmann::json profile_decode(engine::cuda::CudaModel& model, int batch, int prompt, std::mt19937_64& rng,
                              const engine::SamplingConfig& sampling) {
  constexpr int steps = 8;
  run_batch(model, batch, prompt, steps + 1, rng, sampling, [&] { model.set_profiling(true); });
  model.set_profiling(false);
  nlohmann::json per_step = nlohmann::json::object();
  double total = 0;
  for (const auto& [name, ms] : model.profile()) {
    per_step[name] = ms / steps;
    total += ms / steps;
  }
  per_step["total"] = total;
  return per_step;
}

// What each op family costs inside the captured decode step: the decode milliseconds per step saved
// when the family's kernels are switched off in the graph. The step is timed before and after, so
// that the drift between runs shows beside the costs.
nlohmann::json graph_costs(engine::cuda::CudaModel& model, int batch, int prompt, int gen, std::mt19937_64& rng,
                           const engine::SamplingConfig& sampling) {
  const auto step_ms = [&] { return run_batch(model, batch, prompt, gen, rng, sampling).decode_s / (gen - 1) * 1e3; };
  const double step = step_ms();
  nlohmann::json costs = nlohmann::json::object();
  const std::set<std::string> families = model.decode_op_families();
  std::size_t done = 0;
  for (const std::string& family : families) {
    std::cerr << fmt::format("bench --profile: batch {}, decoding without {} ({}/{})\n", batch, family, ++done,
                             families.size());
    model.set_disabled_ops({family});
    costs[family] = step - step_ms();
  }
  model.set_disabled_ops({});
  costs["step"] = step;
  costs["step_again"] = step_ms();
  return costs;
}

}  // namespace

int bench(const BenchCommand& command) {
  if (command.model.empty() == command.shape.empty()) throw UserError("bench: give --model DIR or --shape NAME");
  const std::vector<int> batches = parse_batches(command.batches);
  const int largest = *std::max_element(batches.begin(), batches.end());
  // Measured first, while the GPU's memory is still free for the copy buffers.
  const double measured_gbs = command.device == "cuda" ? engine::measure_copy_bandwidth_gbs(0) : 0.0;
  std::unique_ptr<engine::BatchModel> model;
  std::string label = command.model;
  engine::cuda::CudaModelOptions options;
  options.max_sequences = std::max(largest, 1);
  options.max_step_tokens = std::max<std::size_t>(8192, static_cast<std::size_t>(largest) * command.prompt);
  options.cuda_graphs = command.cuda_graphs;
  if (!command.shape.empty()) {
    label = canonical_shape(command.shape);
    const auto found = known_shapes().find(label);
    if (found == known_shapes().end()) {
      throw UserError(fmt::format("--shape {}: unknown; known shapes are r1-distill-qwen-1.5b (qwen2-1.5b), "
                                  "r1-distill-qwen-7b (qwen2-7b) and qwen3-30b-a3b", command.shape));
    }
    if (command.device != "cuda") throw UserError("--shape needs --device cuda: random weights are made on the GPU");
    model = engine::cuda::random_cuda_model(engine::parse_model_config(found->second, "--shape " + label), options,
                                            command.seed);
  } else if (command.device == "cuda") {
    model = engine::cuda::load_cuda_model(command.model, options);
  } else {
    model = engine::open_batch_model(command.model, command.device, largest);
  }
  const double hbm_gbs = measured_gbs > 0 ? measured_gbs : 4300.0;
  const std::vector<engine::GpuInfo> gpus = engine::list_gpus();
  const double bytes_per_token = static_cast<double>(model->weight_bytes_per_token());
  engine::SamplingConfig sampling;
  sampling.greedy = command.temperature == 0;
  sampling.temperature = static_cast<float>(command.temperature);
  sampling.top_p = static_cast<float>(command.top_p);
  sampling.seed = command.seed;
  std::mt19937_64 rng(command.seed);
  for (const int batch : batches) {
    run_batch(*model, batch, command.prompt, command.gen, rng, sampling);  // warm-up: cuBLAS choices, graphs
    const BenchTimes times = run_batch(*model, batch, command.prompt, command.gen, rng, sampling);
    const double step_bytes = weight_bytes_per_step(model->config(), bytes_per_token, batch);
    nlohmann::json line = {
        {"engine", "rbench"},
        {"model", label},
        {"device", command.device},
        {"gpu", command.device == "cuda" && !gpus.empty() ? gpus.front().name : ""},
        {"batch", batch},
        {"prompt", command.prompt},
        {"gen", command.gen},
        {"sampling", sampling.greedy ? nlohmann::json("greedy")
                                     : nlohmann::json{{"temperature", command.temperature}, {"top_p", command.top_p}}},
        {"prefill_s", times.prefill_s},
        {"decode_s", times.decode_s},
        {"prefill_tok_s", batch * command.prompt / times.prefill_s},
        {"decode_tok_s", command.gen > 1 ? batch * (command.gen - 1) / times.decode_s : 0.0},
        // What the peer script calls decode_tok_s: every generated token over prefill + decode.
        {"generate_tok_s", batch * command.gen / (times.prefill_s + times.decode_s)},
        {"weight_bytes_per_token", bytes_per_token},
        {"weight_bytes_per_step", step_bytes},
        {"hbm_gbs", hbm_gbs},
        {"hbm_gbs_measured", measured_gbs > 0},
        {"batch1_roofline_tok_s", hbm_gbs * 1e9 / bytes_per_token},
        {"batch1_roofline_tok_s_at_4800_gbs", 4800e9 / bytes_per_token},
        {"weight_streaming_bound_tok_s", batch * hbm_gbs * 1e9 / step_bytes},
    };
    if (auto* cuda_model = dynamic_cast<engine::cuda::CudaModel*>(model.get())) {
      line["graph_replays"] = cuda_model->graph_replays();
      if (command.profile) {
        line["profile_ms_per_decode_step"] = profile_decode(*cuda_model, batch, command.prompt, rng, sampling);
        if (command.gen > 1 && command.cuda_graphs) {  // no graphs, no graph costs
          line["graph_cost_ms_per_decode_step"] =
              graph_costs(*cuda_model, batch, command.prompt, command.gen, rng, sampling);
        }
      }
    }
    std::cout << line.dump() << std::endl;
  }
  return 0;
}

}  // namespace rbench::cli
