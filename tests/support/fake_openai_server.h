#pragma once
// A real HTTP server on 127.0.0.1 that speaks OpenAI's /v1/chat/completions, streamed (SSE) or not, and
// fails on request in the ways hosted APIs fail: rate limits, server errors, stalls, garbage, dropped
// connections and streams cut short.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rbench::testing {

struct FakeCompletion {
  std::string reasoning;  // sent as reasoning_content (omitted when empty)
  std::string content;
  std::string finish_reason = "stop";
  int prompt_tokens = 10, cached_tokens = 0, completion_tokens = 20, reasoning_tokens = 0;
};

enum class Fault {
  none,             // a normal answer
  http_429,         // 429 with Retry-After: 0
  http_500,         // with an OpenAI-style error body
  slow,             // waits 30 s (less if the server stops), past any test timeout, then answers
  malformed_json,   // status 200 with a body that is not JSON (streamed: an event that is not JSON)
  drop_connection,  // closes the connection without any response
  broken_stream,    // streamed: some chunks, then the connection closes without [DONE]
  stalled_stream,   // streamed: some chunks, then silence (up to 30 s) with the connection open
  http_400,         // {"error": {"message": "bad request: ..."}}
  http_401,         // "invalid api key", echoing the key it got, as some APIs do
};

class FakeOpenAIServer {
 public:
  using Responder = std::function<FakeCompletion(const nlohmann::json& request_body)>;

  explicit FakeOpenAIServer(Responder responder);  // listening when it returns
  ~FakeOpenAIServer();                             // stops, cutting short any waiting answer
  FakeOpenAIServer(const FakeOpenAIServer&) = delete;
  FakeOpenAIServer& operator=(const FakeOpenAIServer&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:PORT/v1"
  int port() const;
  // Consumed one per request, in order, before normal answers resume.
  void push_faults(std::vector<Fault> faults);
  // Every answer waits this long first, even if the client has gone (only stopping the server cuts it short).
  void set_delay(double seconds);
  int request_count() const;
  std::vector<nlohmann::json> request_bodies() const;
  std::vector<std::string> authorization_headers() const;  // "" where a request had none

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace rbench::testing
