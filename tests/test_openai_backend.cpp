// The OpenAI-compatible backend against a real local HTTP server: results, retries, timeouts, secrets,
// concurrency and cancellation.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/error.h"
#include "harness/backends/openai_backend.h"
#include "support/fake_openai_server.h"

namespace rbench {
namespace {

using nlohmann::json;
using rbench::testing::FakeCompletion;
using rbench::testing::FakeOpenAIServer;
using rbench::testing::Fault;
using Clock = std::chrono::steady_clock;

constexpr const char* kUnsetKeyVariable = "RBENCH_TEST_OPENAI_KEY_NEVER_SET";

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

BackendOptions fast_options(bool stream) {
  BackendOptions options;
  options.api_key_env = kUnsetKeyVariable;
  options.max_retries = 3;
  options.request_timeout_s = 10.0;
  options.connect_timeout_s = 2.0;
  options.backoff_initial_s = 0.01;
  options.stream = stream;
  return options;
}

GenerationRequest math_request(const std::string& question = "What is 2+2?") {
  GenerationRequest request;
  request.problem_id = "p1";
  request.messages = {{"user", question}};
  request.assistant_prefill = "<think>\n";
  request.sampling.temperature = 0.6;
  request.sampling.top_p = 0.95;
  request.sampling.max_tokens = 1000;
  request.sampling.seed = 42;
  return request;
}

FakeCompletion reasoned_answer() {
  FakeCompletion completion;
  completion.reasoning = "Let me add: 2+2=4. Ünïcødé survives splitting ✓.";
  completion.content = "The answer is \\boxed{4}.";
  completion.prompt_tokens = 31;
  completion.cached_tokens = 16;
  completion.completion_tokens = 120;
  completion.reasoning_tokens = 100;
  return completion;
}

FakeOpenAIServer::Responder always(FakeCompletion completion) {
  return [completion](const json&) { return completion; };
}

// Each case runs with whole-body responses and with streamed (SSE) ones.
class OpenAIBackendTest : public ::testing::TestWithParam<bool> {
 protected:
  bool streamed() const { return GetParam(); }
  BackendOptions options() const { return fast_options(streamed()); }
};

INSTANTIATE_TEST_SUITE_P(Modes, OpenAIBackendTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "streamed" : "whole_body";
                         });

TEST_P(OpenAIBackendTest, ReturnsReasoningAnswerUsageAndFinishReason) {
  FakeOpenAIServer server(always(reasoned_answer()));
  const auto backend = make_openai_backend("deepseek-reasoner", server.base_url(), options());
  const GenerationResult result = backend->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.reasoning, reasoned_answer().reasoning);
  EXPECT_EQ(result.answer, "The answer is \\boxed{4}.");
  EXPECT_EQ(result.finish_reason, "stop");
  EXPECT_EQ(result.usage.input, 31);
  EXPECT_EQ(result.usage.cached_input, 16);
  EXPECT_EQ(result.usage.output, 120);
  EXPECT_EQ(result.usage.reasoning, 100);
  EXPECT_GT(result.latency_s, 0.0);
  EXPECT_EQ(server.request_count(), 1);
}

TEST_P(OpenAIBackendTest, KeepsLengthFinishReason) {
  FakeCompletion truncated;
  truncated.reasoning = "Still thinking about";
  truncated.finish_reason = "length";
  FakeOpenAIServer server(always(truncated));
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.finish_reason, "length");
  EXPECT_EQ(result.reasoning, "Still thinking about");
  EXPECT_EQ(result.answer, "");
  EXPECT_EQ(server.request_count(), 1);
}

TEST_P(OpenAIBackendTest, SplitsThinkBlockInContent) {
  FakeCompletion completion;
  completion.content = "<think>\nI add the numbers.\n</think>\n\nThe answer is 4.";
  FakeOpenAIServer server(always(completion));
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.reasoning, "I add the numbers.");
  EXPECT_EQ(result.answer, "The answer is 4.");
}

TEST_P(OpenAIBackendTest, SplitsContentThatOnlyClosesThink) {
  FakeCompletion completion;  // the chat template put "<think>\n" in the prompt, so only the close comes back
  completion.content = "I add the numbers.\n</think>\nThe answer is 4.";
  FakeOpenAIServer server(always(completion));
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.reasoning, "I add the numbers.");
  EXPECT_EQ(result.answer, "The answer is 4.");
}

TEST_P(OpenAIBackendTest, RequestBodyCarriesModelSamplingAndMessages) {
  FakeOpenAIServer server(always(reasoned_answer()));
  GenerationRequest request = math_request("Compute 3*7.");
  request.messages.insert(request.messages.begin(), ChatMessage{"system", "Be brief."});
  make_openai_backend("deepseek-reasoner", server.base_url(), options())->generate(request);

  ASSERT_EQ(server.request_count(), 1);
  const json body = server.request_bodies().at(0);
  EXPECT_EQ(body["model"], "deepseek-reasoner");
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(body["top_p"].get<double>(), 0.95);
  EXPECT_EQ(body["max_tokens"], 1000);
  EXPECT_EQ(body["seed"], 42);
  EXPECT_EQ(body["stream"], streamed());
  const json expected_messages =
      json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Compute 3*7."}}});
  EXPECT_EQ(body["messages"], expected_messages);  // the "<think>\n" prefill is not sent
  if (streamed()) {
    EXPECT_EQ(body["stream_options"]["include_usage"], true);
  } else {
    EXPECT_FALSE(body.contains("stream_options"));
  }
}

TEST_P(OpenAIBackendTest, RetriesAfterRateLimitHonouringRetryAfter) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::http_429});
  BackendOptions slow_backoff = options();
  slow_backoff.backoff_initial_s = 30.0;  // Retry-After: 0 overrides it
  const auto start = Clock::now();
  const GenerationResult result = make_openai_backend("m", server.base_url(), slow_backoff)->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.answer, reasoned_answer().content);
  EXPECT_EQ(server.request_count(), 2);
  EXPECT_LT(seconds_since(start), 5.0);
}

TEST_P(OpenAIBackendTest, RetriesAfterServerErrors) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::http_500, Fault::http_500});
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.answer, reasoned_answer().content);
  EXPECT_EQ(server.request_count(), 3);
}

TEST_P(OpenAIBackendTest, RetriesAfterMalformedResponse) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::malformed_json});
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.reasoning, reasoned_answer().reasoning);
  EXPECT_EQ(server.request_count(), 2);
}

TEST_P(OpenAIBackendTest, RetriesAfterDroppedConnection) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::drop_connection});
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.answer, reasoned_answer().content);
  EXPECT_EQ(server.request_count(), 2);
}

TEST_P(OpenAIBackendTest, RetriesAfterBrokenStream) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::broken_stream});
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.reasoning, reasoned_answer().reasoning);  // nothing of the broken attempt leaks in
  EXPECT_EQ(result.answer, reasoned_answer().content);
  EXPECT_EQ(server.request_count(), 2);
}

TEST_P(OpenAIBackendTest, GivesUpAfterMaxRetriesNamingTheUrl) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::http_500, Fault::http_500, Fault::http_500, Fault::http_500});
  BackendOptions two_retries = options();
  two_retries.max_retries = 2;
  const GenerationResult result = make_openai_backend("m", server.base_url(), two_retries)->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find(server.base_url() + "/chat/completions"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("after 3 attempts"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("500 Internal Server Error: the server had an error"), std::string::npos) << result.error;
  EXPECT_EQ(server.request_count(), 3);
}

TEST_P(OpenAIBackendTest, PersistentlyMalformedResponseEndsWithAnExcerpt) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::malformed_json, Fault::malformed_json});
  BackendOptions one_retry = options();
  one_retry.max_retries = 1;
  const GenerationResult result = make_openai_backend("m", server.base_url(), one_retry)->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find("malformed response from " + server.base_url() + "/chat/completions"), std::string::npos)
      << result.error;
  EXPECT_NE(result.error.find("this is not json"), std::string::npos) << result.error;
  EXPECT_EQ(server.request_count(), 2);
}

TEST_P(OpenAIBackendTest, DoesNotRetryUnauthorized) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::http_401});
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find("401 Unauthorized: invalid api key"), std::string::npos) << result.error;
  EXPECT_EQ(server.request_count(), 1);
}

TEST_P(OpenAIBackendTest, DoesNotRetryBadRequest) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::http_400});
  const GenerationResult result = make_openai_backend("m", server.base_url(), options())->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find("400 Bad Request: bad request: max_tokens is too large"), std::string::npos)
      << result.error;
  EXPECT_EQ(server.request_count(), 1);
}

TEST_P(OpenAIBackendTest, SlowResponsesTimeOut) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::slow, Fault::slow});
  BackendOptions short_timeout = options();
  short_timeout.request_timeout_s = 0.5;
  short_timeout.max_retries = 1;
  const auto start = Clock::now();
  const GenerationResult result = make_openai_backend("m", server.base_url(), short_timeout)->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find("timed out"), std::string::npos) << result.error;
  EXPECT_EQ(server.request_count(), 2);
  EXPECT_LT(seconds_since(start), 5.0);
}

TEST_P(OpenAIBackendTest, RecoversFromOneSlowResponse) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::slow});
  BackendOptions short_timeout = options();
  short_timeout.request_timeout_s = 0.5;
  const GenerationResult result = make_openai_backend("m", server.base_url(), short_timeout)->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.answer, reasoned_answer().content);
  EXPECT_EQ(server.request_count(), 2);
}

TEST(OpenAIBackend, DetectsAStalledStream) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::stalled_stream});
  BackendOptions options = fast_options(true);
  options.request_timeout_s = 4.0;  // the stall limit derived from it is 1 s
  options.max_retries = 0;
  const auto start = Clock::now();
  const GenerationResult result = make_openai_backend("m", server.base_url(), options)->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find("timed out: the stream stalled: nothing received for 1 s"), std::string::npos)
      << result.error;
  EXPECT_LT(seconds_since(start), 2.5);
}

TEST_P(OpenAIBackendTest, ServesEightThreadsAtOnce) {
  FakeOpenAIServer server([](const json& body) {
    FakeCompletion completion;
    completion.reasoning = "thinking about " + body["messages"][0]["content"].get<std::string>();
    completion.content = "echo: " + body["messages"][0]["content"].get<std::string>();
    return completion;
  });
  server.set_delay(0.05);
  const auto backend = make_openai_backend("m", server.base_url(), options());
  constexpr int kThreads = 8, kRequestsEach = 3;
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      for (int i = 0; i < kRequestsEach; ++i) {
        const std::string question = "question " + std::to_string(thread) + "." + std::to_string(i);
        const GenerationResult result = backend->generate(math_request(question));
        if (result.answer != "echo: " + question || result.reasoning != "thinking about " + question) ++mismatches;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(server.request_count(), kThreads * kRequestsEach);
}

TEST_P(OpenAIBackendTest, CancellationAbortsATransferPromptly) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.set_delay(20.0);
  const auto backend = make_openai_backend("m", server.base_url(), options());
  std::atomic<bool> cancelled = false;
  GenerationRequest request = math_request();
  request.cancelled = &cancelled;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancelled = true;
  });
  const auto start = Clock::now();
  const GenerationResult result = backend->generate(request);
  canceller.join();
  EXPECT_EQ(result.finish_reason, "cancelled");
  EXPECT_EQ(result.error, "cancelled");
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(OpenAIBackend, CancellationCutsABackoffShort) {
  FakeOpenAIServer server(always(reasoned_answer()));
  server.push_faults({Fault::http_500});
  BackendOptions slow_backoff = fast_options(true);
  slow_backoff.backoff_initial_s = 30.0;
  const auto backend = make_openai_backend("m", server.base_url(), slow_backoff);
  std::atomic<bool> cancelled = false;
  GenerationRequest request = math_request();
  request.cancelled = &cancelled;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled = true;
  });
  const auto start = Clock::now();
  const GenerationResult result = backend->generate(request);
  canceller.join();
  EXPECT_EQ(result.finish_reason, "cancelled");
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ(server.request_count(), 1);
}

TEST(OpenAIBackend, CancelledRequestSendsNothing) {
  FakeOpenAIServer server(always(reasoned_answer()));
  std::atomic<bool> cancelled = true;
  GenerationRequest request = math_request();
  request.cancelled = &cancelled;
  const GenerationResult result = make_openai_backend("m", server.base_url(), fast_options(true))->generate(request);
  EXPECT_EQ(result.finish_reason, "cancelled");
  EXPECT_EQ(server.request_count(), 0);
}

// A port that nothing listens on: bound by the OS, then released.
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
    ADD_FAILURE() << "cannot find a free port";
  close(fd);
  return ntohs(address.sin_port);
}

TEST(OpenAIBackend, UnreachableServerIsAnErrorNotAThrow) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  BackendOptions one_retry = fast_options(true);
  one_retry.max_retries = 1;
  GenerationResult result;
  EXPECT_NO_THROW(result = make_openai_backend("m", url, one_retry)->generate(math_request()));
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find(url + "/chat/completions"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("after 2 attempts"), std::string::npos) << result.error;
}

std::vector<std::string> every_string_of(const GenerationResult& result, const ModelIdentity& identity) {
  return {result.reasoning, result.answer,    result.finish_reason, result.error,
          identity.name,    identity.backend, identity.location,    identity.weights_hash};
}

TEST(OpenAIBackend, SendsTheKeyAsBearerAndNowhereElse) {
  constexpr const char* kVariable = "RBENCH_TEST_OPENAI_KEY";
  const std::string key = "sk-rbench-7f3a9c-do-not-leak";
  setenv(kVariable, key.c_str(), 1);
  BackendOptions with_key = fast_options(true);
  with_key.api_key_env = kVariable;
  with_key.max_retries = 1;
  FakeOpenAIServer server(always(reasoned_answer()));
  const auto backend = make_openai_backend("m", server.base_url(), with_key);
  unsetenv(kVariable);  // read once, at construction

  const GenerationResult good = backend->generate(math_request());
  server.push_faults({Fault::http_401});  // its message echoes the key it got
  const GenerationResult rejected = backend->generate(math_request());
  server.push_faults({Fault::http_500, Fault::http_500});
  const GenerationResult exhausted = backend->generate(math_request());

  ASSERT_EQ(server.request_count(), 4);
  for (const std::string& header : server.authorization_headers()) EXPECT_EQ(header, "Bearer " + key);
  EXPECT_EQ(good.error, "");
  EXPECT_NE(rejected.error.find("401 Unauthorized: invalid api key (received 'Bearer [redacted]')"), std::string::npos)
      << rejected.error;
  EXPECT_NE(exhausted.error, "");
  for (const GenerationResult* result : {&good, &rejected, &exhausted}) {
    for (const std::string& text : every_string_of(*result, backend->identity()))
      EXPECT_EQ(text.find(key), std::string::npos) << text;
  }
}

TEST(OpenAIBackend, SendsNoAuthorizationWithoutAKey) {
  FakeOpenAIServer server(always(reasoned_answer()));
  make_openai_backend("m", server.base_url(), fast_options(false))->generate(math_request());
  EXPECT_EQ(server.authorization_headers(), std::vector<std::string>{""});
}

TEST(OpenAIBackend, IdentityShowsNoCredentialsOrQuery) {
  FakeOpenAIServer server(always(reasoned_answer()));
  const std::string with_secrets =
      "http://user:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/v1?api-version=2024-10-01&token=hunter2";
  const auto backend = make_openai_backend("deepseek-reasoner", with_secrets, fast_options(true));
  const ModelIdentity identity = backend->identity();
  EXPECT_EQ(identity.name, "deepseek-reasoner");
  EXPECT_EQ(identity.backend, "openai");
  EXPECT_EQ(identity.location, server.base_url());
  EXPECT_EQ(identity.weights_hash, "");
  server.push_faults({Fault::http_400});
  const GenerationResult result = backend->generate(math_request());
  EXPECT_EQ(result.error.find("hunter2"), std::string::npos) << result.error;
}

TEST(OpenAIBackend, AcceptsAFullChatCompletionsUrl) {
  FakeOpenAIServer server(always(reasoned_answer()));
  const std::string url = server.base_url() + "/chat/completions";
  const auto backend = make_openai_backend("m", url, fast_options(true));
  EXPECT_EQ(backend->identity().location, url);
  EXPECT_EQ(backend->generate(math_request()).error, "");
  EXPECT_EQ(server.request_count(), 1);
}

TEST(OpenAIBackend, RejectsUrlsItCannotUse) {
  EXPECT_THROW(make_openai_backend("m", "not a url", fast_options(true)), UserError);
  EXPECT_THROW(make_openai_backend("m", "ftp://127.0.0.1/v1", fast_options(true)), UserError);
}

TEST(OpenAIBackend, LargeSeedIsSentAsASigned64BitInteger) {
  FakeOpenAIServer server(always(reasoned_answer()));
  GenerationRequest request = math_request();
  request.sampling.seed = UINT64_MAX;
  make_openai_backend("m", server.base_url(), fast_options(false))->generate(request);
  EXPECT_EQ(server.request_bodies().at(0)["seed"].get<int64_t>(), INT64_MAX);
}

TEST(OpenAIBackend, RequestWithoutMessagesFailsWithoutSending) {
  FakeOpenAIServer server(always(reasoned_answer()));
  GenerationRequest request;
  request.prompt_ids = {1, 2, 3};
  const GenerationResult result = make_openai_backend("m", server.base_url(), fast_options(true))->generate(request);
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error, "");
  EXPECT_EQ(server.request_count(), 0);
}

// Answers every request with one fixed response, for server dialects the fake does not speak.
class ScriptedServer {
 public:
  ScriptedServer(std::string content_type, std::string body) {
    server_.Post("/v1/chat/completions", [content_type, body](const httplib::Request&, httplib::Response& response) {
      response.set_content(body, content_type);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ScriptedServer() {
    server_.stop();
    listener_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread listener_;
};

TEST(OpenAIBackend, ReadsDeepSeekCacheHitsAndTheReasoningAlias) {
  const json body = {
      {"choices", json::array({{{"message", {{"content", "4"}, {"reasoning", "2+2"}}}, {"finish_reason", "stop"}}})},
      {"usage", {{"prompt_tokens", 50}, {"prompt_cache_hit_tokens", 32}, {"completion_tokens", 9}}}};
  ScriptedServer server("application/json", body.dump());
  const GenerationResult result =
      make_openai_backend("m", server.base_url(), fast_options(false))->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.reasoning, "2+2");
  EXPECT_EQ(result.answer, "4");
  EXPECT_EQ(result.usage.input, 50);
  EXPECT_EQ(result.usage.cached_input, 32);
  EXPECT_EQ(result.usage.output, 9);
  EXPECT_EQ(result.usage.reasoning, 0);  // not given, so not invented
}

TEST(OpenAIBackend, TakesAWholeBodyAnswerToAStreamedRequest) {
  const json body = {{"choices", json::array({{{"message", {{"content", "4"}}}, {"finish_reason", "stop"}}})}};
  ScriptedServer server("application/json", body.dump());
  const GenerationResult result =
      make_openai_backend("m", server.base_url(), fast_options(true))->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.answer, "4");
}

TEST(OpenAIBackend, AcceptsAStreamThatFinishesWithoutDone) {
  const std::string events =
      "data: {\"choices\":[{\"delta\":{\"reasoning\":\"hm\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"4\"},\"finish_reason\":\"stop\"}]}\r\n\r\n";
  ScriptedServer server("text/event-stream", events);
  const GenerationResult result =
      make_openai_backend("m", server.base_url(), fast_options(true))->generate(math_request());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.reasoning, "hm");
  EXPECT_EQ(result.answer, "4");
  EXPECT_EQ(result.finish_reason, "stop");
}

TEST(OpenAIBackend, ReportsAnErrorEventInAStream) {
  ScriptedServer server("text/event-stream", "data: {\"error\":{\"message\":\"overloaded\"}}\n\n");
  BackendOptions one_retry = fast_options(true);
  one_retry.max_retries = 1;
  const GenerationResult result = make_openai_backend("m", server.base_url(), one_retry)->generate(math_request());
  EXPECT_EQ(result.finish_reason, "error");
  EXPECT_NE(result.error.find("overloaded"), std::string::npos) << result.error;
}

std::vector<std::string> decode_in_pieces(std::string_view stream, const std::vector<size_t>& cuts) {
  std::vector<std::string> events;
  ServerSentEventDecoder decoder([&](std::string_view data) { events.emplace_back(data); });
  size_t start = 0;
  for (size_t cut : cuts) {
    decoder.feed(stream.substr(start, cut - start));
    start = cut;
  }
  decoder.feed(stream.substr(start));
  return events;
}

TEST(ServerSentEventDecoder, SameEventsWhereverTheBytesAreSplit) {
  const std::string stream =
      ": keep-alive\r\n\r\n"
      "data: {\"a\":1}\n\n"
      "data: line1\ndata: line2\r\n\r\n"
      "event: ping\nid: 3\ndata:no-space\r\r"
      "data: [DONE]\n\n";
  const std::vector<std::string> expected = {"{\"a\":1}", "line1\nline2", "no-space", "[DONE]"};
  EXPECT_EQ(decode_in_pieces(stream, {}), expected);
  for (size_t first = 0; first <= stream.size(); ++first) {
    for (size_t second = first; second <= stream.size(); ++second)
      ASSERT_EQ(decode_in_pieces(stream, {first, second}), expected) << "cut at " << first << " and " << second;
  }
  std::vector<size_t> every_byte(stream.size());
  for (size_t i = 0; i < stream.size(); ++i) every_byte[i] = i;
  EXPECT_EQ(decode_in_pieces(stream, every_byte), expected);
}

TEST(ServerSentEventDecoder, DropsCommentsAndEventsWithoutData) {
  EXPECT_TRUE(decode_in_pieces("event: ping\n\n: comment\n\nid: 7\n\n", {}).empty());
  EXPECT_TRUE(decode_in_pieces("data: unterminated", {}).empty());  // an event is complete only at a blank line
}

}  // namespace
}  // namespace rbench
