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
  std::unique_ptr<BatchModel::Sequence> sequence;  // opened at the first admission, kept when preempted
  std::vector<int32_t> pending;  // tokens not yet in the cache: the prompt, then each sampled token
  std::size_t fed = 0;           // of pending, fed by earlier steps (a long prompt goes in pieces)
  std::size_t take = 0;          // of pending, fed by this step
  std::optional<StreamingDecoder> decoder;
  bool cancel_requested = false;  // guarded by State::mutex
  bool done = false;              // guarded by State::mutex
  Completion completion;
  Clock::time_point submitted = Clock::now();
  std::optional<Clock::time_point> admitted;

  Request(Generator::RequestId id_, std::vector<int32_t> prompt_, GenerationParams params_, TokenCallback callback)
      : id(id_),
        prompt(std::move(prompt_)),
        params(std::move(params_)),
        on_token(std::move(callback)),
        pending(prompt) {}

  std::size_t unfed() const { return pending.size() - fed; }
  BatchModel::Step step() const {
    return {sequence.get(), std::span(pending).subspan(fed, take), fed + take == pending.size()};
  }

  // Its cache was freed: feed the prompt and every token made so far again.
  void rewind() {
    pending = prompt;
    pending.insert(pending.end(), completion.tokens.begin(), completion.tokens.end());
    fed = 0;
  }

  // Appends a sampled token; returns the finish reason if the sequence is done, else "".
  std::string accept(int32_t token) {
    pending = {token};
    fed = 0;
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

using RequestPtr = std::shared_ptr<Request>;

struct Generator::State {
  std::unique_ptr<CpuBatchModel> owned_model;  // when built from a CPU Model
  BatchModel& model;
  const Tokenizer* tokenizer;
  GeneratorOptions options;
  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable request_done;
  std::deque<RequestPtr> waiting;
  std::vector<RequestPtr> running;  // in order of admission
  std::map<RequestId, RequestPtr> requests;
  RequestId next_id = 1;
  bool stopping = false;
  std::thread scheduler;

  State(BatchModel& model_, const Tokenizer* tokenizer_, GeneratorOptions options_)
      : model(model_), tokenizer(tokenizer_), options(options_) {}
  State(std::unique_ptr<CpuBatchModel> owned, const Tokenizer* tokenizer_, GeneratorOptions options_)
      : owned_model(std::move(owned)), model(*owned_model), tokenizer(tokenizer_), options(options_) {}

  void finish(Request& request, std::string reason, std::string error = "") {
    request.completion.finish_reason = std::move(reason);
    request.completion.error = std::move(error);
    request.completion.prompt_tokens = static_cast<int>(request.prompt.size());
    request.completion.run_s = request.admitted ? seconds_between(*request.admitted, Clock::now()) : 0.0;
    request.sequence.reset();  // free the KV memory now, not when the caller waits
    std::lock_guard lock(mutex);
    request.done = true;
    request_done.notify_all();
  }

  // Frees the cache of the most recently admitted running request and queues it again. Lock held.
  RequestPtr preempt_youngest() {
    RequestPtr victim = running.back();
    running.pop_back();
    model.release(*victim->sequence);
    victim->rewind();
    waiting.push_front(victim);
    return victim;
  }

  // Moves waiting requests into the batch while the batch and the cache have room, and drops
  // cancelled ones. Lock held.
  std::vector<RequestPtr> take_cancelled_and_admit(std::vector<RequestPtr>& unfit) {
    std::vector<RequestPtr> cancelled;
    // One look at each request's flags: they may change while we sort.
    const auto move_cancelled = [&](auto& queue) {
      std::erase_if(queue, [&](const RequestPtr& r) {
        const bool is_cancelled = r->cancel_requested || (r->params.cancelled != nullptr && r->params.cancelled->load());
        if (is_cancelled) cancelled.push_back(r);
        return is_cancelled;
      });
    };
    move_cancelled(running);
    move_cancelled(waiting);
    while (!waiting.empty() && static_cast<int>(running.size()) < options.max_batch) {
      Request& request = *waiting.front();
      if (!request.sequence) request.sequence = model.open_sequence(request.params.sampling);
      // Room for its first piece at least; a request that does not fit an empty device never will.
      const std::size_t first_piece = std::min(request.unfed(), model.max_step_tokens());
      if (!model.reserve(*request.sequence, first_piece)) {
        if (!running.empty()) break;
        unfit.push_back(waiting.front());
        waiting.pop_front();
        continue;
      }
      if (!request.admitted) {
        request.admitted = Clock::now();
        request.completion.queue_s = seconds_between(request.submitted, *request.admitted);
        if (tokenizer != nullptr) request.decoder.emplace(*tokenizer);
      }
      running.push_back(std::move(waiting.front()));
      waiting.pop_front();
    }
    return cancelled;
  }

  // The running requests' pieces for this step: decoding sequences first (one token each), then
  // prompt pieces up to the model's step budget. Preempts where the cache is full. Lock held.
  std::vector<RequestPtr> plan_step(std::vector<RequestPtr>& unfit) {
    std::vector<RequestPtr> order = running;
    std::stable_partition(order.begin(), order.end(), [](const RequestPtr& r) { return r->unfed() == 1; });
    std::size_t budget = model.max_step_tokens();
    std::vector<RequestPtr> batch;
    for (const RequestPtr& request : order) {
      if (std::find(running.begin(), running.end(), request) == running.end()) continue;  // preempted meanwhile
      request->take = std::min(request->unfed(), budget);
      if (request->take == 0) continue;
      const std::size_t needed = request->sequence->length() + request->take;
      bool preempted = false;
      while (!preempted && !model.reserve(*request->sequence, needed)) {
        if (running.size() == 1) {  // alone and still too long for the device
          running.clear();
          unfit.push_back(request);
          preempted = true;
          break;
        }
        const RequestPtr victim = preempt_youngest();
        std::erase(batch, victim);
        if (victim == request) preempted = true;
      }
      if (preempted) continue;
      batch.push_back(request);
      budget -= request->take;
    }
    return batch;
  }

  void step(const std::vector<RequestPtr>& batch) {
    std::vector<BatchModel::Step> steps;
    steps.reserve(batch.size());
    for (const auto& request : batch) steps.push_back(request->step());
    std::vector<TokenId> tokens;
    try {
      tokens = model.step(steps);
    } catch (const std::exception& e) {
      for (const auto& request : batch) finish(*request, "error", e.what());
      return;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      Request& request = *batch[i];
      request.fed += request.take;
      if (!steps[i].sample) continue;
      const std::string reason = request.accept(tokens[i]);
      if (!reason.empty()) finish(request, reason);
    }
  }

  void run() {
    while (true) {
      std::vector<RequestPtr> batch;
      std::vector<RequestPtr> cancelled;
      std::vector<RequestPtr> unfit;
      {
        std::unique_lock lock(mutex);
        work_ready.wait(lock, [&] { return stopping || !waiting.empty() || !running.empty(); });
        if (stopping) {
          for (auto& request : running) request->cancel_requested = true;
          for (auto& request : waiting) request->cancel_requested = true;
        }
        cancelled = take_cancelled_and_admit(unfit);
        batch = plan_step(unfit);
      }
      for (const auto& request : cancelled) finish(*request, "cancelled");
      for (const auto& request : unfit) {
        finish(*request, "error",
               "the KV cache cannot hold this sequence (" + std::to_string(request->pending.size()) + " positions)");
      }
      if (batch.empty()) {
        std::lock_guard lock(mutex);
        if (stopping && running.empty() && waiting.empty()) return;
        continue;
      }
      step(batch);
      std::lock_guard lock(mutex);
      std::erase_if(running, [](const RequestPtr& r) { return r->done; });
    }
  }
};

Generator::Generator(BatchModel& model, const Tokenizer* tokenizer, GeneratorOptions options)
    : state_(std::make_unique<State>(model, tokenizer, options)) {
  state_->scheduler = std::thread([this] { state_->run(); });
}

Generator::Generator(const Model& model, const Tokenizer* tokenizer, GeneratorOptions options)
    : state_(std::make_unique<State>(std::make_unique<CpuBatchModel>(model), tokenizer, options)) {
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
