#include "engine/runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace rbench::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

struct Request {
  Generator::RequestId id = 0;
  std::vector<int32_t> prompt;
  GenerationParams params;
  TokenCallback on_token;
  Sampler sampler;
  std::unique_ptr<KvCache> cache;
  std::optional<StreamingDecoder> decoder;
  bool prefilled = false;
  bool cancel_requested = false;  // guarded by State::mutex
  bool done = false;              // guarded by State::mutex
  Completion completion;
  Clock::time_point submitted = Clock::now();
  Clock::time_point admitted;

  Request(Generator::RequestId id_, std::vector<int32_t> prompt_, GenerationParams params_, TokenCallback callback)
      : id(id_), prompt(std::move(prompt_)), params(std::move(params_)), on_token(std::move(callback)),
        sampler(params.sampling) {}

  // The tokens this step feeds: the whole prompt first, then the last sampled token.
  std::span<const int32_t> step_tokens() const {
    if (!prefilled) return prompt;
    return {&completion.tokens.back(), 1};
  }

  // Appends a sampled token; returns the finish reason if the sequence is done, else "".
  std::string accept(int32_t token) {
    completion.tokens.push_back(token);
    const bool stop_token = !params.ignore_eos && std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                                            token) != params.stop_token_ids.end();
    std::string piece;
    if (decoder && !stop_token) piece = decoder->push(token);
    const size_t searched_from = completion.text.size();
    completion.text += piece;
    if (on_token) on_token(token, piece);
    if (stop_token) return "stop";
    if (cut_at_stop_string(searched_from)) return "stop";
    if (static_cast<int>(completion.tokens.size()) >= params.max_new_tokens) return "length";
    return "";
  }

  // A stop string may straddle the previous piece and this one: search from just before the new text.
  bool cut_at_stop_string(size_t new_text_start) {
    for (const auto& stop : params.stop_strings) {
      if (stop.empty()) continue;
      const size_t from = new_text_start >= stop.size() ? new_text_start - stop.size() + 1 : 0;
      const size_t at = completion.text.find(stop, from);
      if (at != std::string::npos) {
        completion.text.resize(at);
        return true;
      }
    }
    return false;
  }
};

struct Generator::State {
  const Model& model;
  const Tokenizer* tokenizer;
  GeneratorOptions options;
  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable request_done;
  std::deque<std::shared_ptr<Request>> waiting;
  std::vector<std::shared_ptr<Request>> running;
  std::map<RequestId, std::shared_ptr<Request>> requests;
  RequestId next_id = 1;
  bool stopping = false;
  std::thread scheduler;

  State(const Model& model_, const Tokenizer* tokenizer_, GeneratorOptions options_)
      : model(model_), tokenizer(tokenizer_), options(options_) {}

  void finish(Request& request, std::string reason, std::string error = "") {
    request.completion.finish_reason = std::move(reason);
    request.completion.error = std::move(error);
    request.completion.prompt_tokens = static_cast<int>(request.prompt.size());
    request.completion.run_s = request.prefilled ? seconds_between(request.admitted, Clock::now()) : 0.0;
    request.cache.reset();  // free the KV memory now, not when the caller waits
    std::lock_guard lock(mutex);
    request.done = true;
    request_done.notify_all();
  }

  // Moves waiting requests into the batch and drops cancelled ones. Called with the lock held.
  std::vector<std::shared_ptr<Request>> take_cancelled_and_admit() {
    std::vector<std::shared_ptr<Request>> cancelled;
    // One look at each request's flags: they may change while we sort.
    const auto move_cancelled = [&](auto& queue) {
      std::erase_if(queue, [&](const std::shared_ptr<Request>& r) {
        const bool is_cancelled = r->cancel_requested || (r->params.cancelled != nullptr && r->params.cancelled->load());
        if (is_cancelled) cancelled.push_back(r);
        return is_cancelled;
      });
    };
    move_cancelled(running);
    move_cancelled(waiting);
    while (!waiting.empty() && static_cast<int>(running.size()) < options.max_batch) {
      auto request = std::move(waiting.front());
      waiting.pop_front();
      request->cache = model.new_cache();
      if (tokenizer != nullptr) request->decoder.emplace(*tokenizer);
      request->admitted = Clock::now();
      request->completion.queue_s = seconds_between(request->submitted, request->admitted);
      running.push_back(std::move(request));
    }
    return cancelled;
  }

  void step(const std::vector<std::shared_ptr<Request>>& batch) {
    std::vector<SequenceStep> steps;
    steps.reserve(batch.size());
    for (const auto& request : batch) steps.push_back({request->step_tokens(), request->cache.get(), false});
    std::vector<cpu::Matrix> logits;
    try {
      logits = model.forward(steps);
    } catch (const std::exception& e) {
      for (const auto& request : batch) finish(*request, "error", e.what());
      return;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      Request& request = *batch[i];
      request.prefilled = true;
      const cpu::Matrix& rows = logits[i];
      const int32_t token = request.sampler.sample(rows.row_span(rows.rows() - 1));
      const std::string reason = request.accept(token);
      if (!reason.empty()) finish(request, reason);
    }
  }

  void run() {
    while (true) {
      std::vector<std::shared_ptr<Request>> batch;
      std::vector<std::shared_ptr<Request>> cancelled;
      {
        std::unique_lock lock(mutex);
        work_ready.wait(lock, [&] { return stopping || !waiting.empty() || !running.empty(); });
        if (stopping) {
          for (auto& request : running) request->cancel_requested = true;
          for (auto& request : waiting) request->cancel_requested = true;
        }
        cancelled = take_cancelled_and_admit();
        batch = running;
      }
      for (const auto& request : cancelled) finish(*request, "cancelled");
      if (batch.empty()) {
        std::lock_guard lock(mutex);
        if (stopping) return;
        continue;
      }
      step(batch);
      std::lock_guard lock(mutex);
      std::erase_if(running, [](const std::shared_ptr<Request>& r) { return r->done; });
    }
  }
};

Generator::Generator(const Model& model, const Tokenizer* tokenizer, GeneratorOptions options)
    : state_(std::make_unique<State>(model, tokenizer, options)) {
  state_->scheduler = std::thread([this] { state_->run(); });
}

Generator::~Generator() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work_ready.notify_all();
  state_->scheduler.join();
}

Generator::RequestId Generator::submit(std::vector<int32_t> prompt, GenerationParams params, TokenCallback on_token) {
  std::lock_guard lock(state_->mutex);
  const RequestId id = state_->next_id++;
  auto request = std::make_shared<Request>(id, std::move(prompt), std::move(params), std::move(on_token));
  state_->requests[id] = request;
  if (request->prompt.empty() || request->params.max_new_tokens <= 0) {
    request->completion.finish_reason = "error";
    request->completion.error = request->prompt.empty() ? "empty prompt" : "max_new_tokens must be positive";
    request->done = true;
    return id;
  }
  state_->waiting.push_back(std::move(request));
  state_->work_ready.notify_all();
  return id;
}

void Generator::cancel(RequestId id) {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->requests.find(id);
  if (it == state_->requests.end() || it->second->done) return;
  it->second->cancel_requested = true;
  state_->work_ready.notify_all();
}

Completion Generator::wait(RequestId id) {
  std::unique_lock lock(state_->mutex);
  const auto it = state_->requests.find(id);
  if (it == state_->requests.end()) return {{}, "", "error", "unknown request id", 0, 0.0, 0.0};
  const std::shared_ptr<Request> request = it->second;
  state_->request_done.wait(lock, [&] { return request->done; });
  state_->requests.erase(id);
  return std::move(request->completion);
}

Completion Generator::generate(std::vector<int32_t> prompt, GenerationParams params) {
  return wait(submit(std::move(prompt), std::move(params)));
}

}  // namespace rbench::engine
