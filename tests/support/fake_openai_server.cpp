#include "support/fake_openai_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace rbench::testing {
namespace {

using nlohmann::json;

// Every handler thread may be parked in a delay; the default pool (8 threads) would queue requests.
constexpr size_t kServerThreads = 64;
constexpr std::chrono::seconds kSlowAnswerWait{30};

json error_body(const std::string& message, const std::string& type) {
  return {{"error", {{"message", message}, {"type", type}, {"code", nullptr}}}};
}

json usage_json(const FakeCompletion& completion) {
  return {{"prompt_tokens", completion.prompt_tokens},
          {"completion_tokens", completion.completion_tokens},
          {"total_tokens", completion.prompt_tokens + completion.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", completion.cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", completion.reasoning_tokens}}}};
}

json completion_json(const FakeCompletion& completion, const json& request, const std::string& id) {
  json message = {{"role", "assistant"}, {"content", completion.content}};
  if (!completion.reasoning.empty()) message["reasoning_content"] = completion.reasoning;
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", 1700000000},
          {"model", request.value("model", "")},
          {"choices", json::array({{{"index", 0}, {"message", message}, {"finish_reason", completion.finish_reason}}})},
          {"usage", usage_json(completion)}};
}

// Cuts text into pieces of uneven sizes, never inside a UTF-8 character (each piece must be valid JSON text).
std::vector<std::string> uneven_pieces(const std::string& text) {
  static constexpr size_t kSizes[] = {1, 3, 2, 5, 7, 4};
  std::vector<std::string> pieces;
  size_t start = 0;
  for (size_t turn = 0; start < text.size(); ++turn) {
    size_t end = std::min(text.size(), start + kSizes[turn % std::size(kSizes)]);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    pieces.push_back(text.substr(start, end - start));
    start = end;
  }
  return pieces;
}

std::string sse_event(const json& data) { return "data: " + data.dump() + "\n\n"; }

// The events of a streamed answer, as OpenAI-compatible servers send them.
std::vector<std::string> stream_events(const FakeCompletion& completion, const json& request, const std::string& id) {
  const json chunk_template = {
      {"id", id}, {"object", "chat.completion.chunk"}, {"created", 1700000000}, {"model", request.value("model", "")}};
  const auto chunk = [&](json delta, json finish_reason) {
    json event = chunk_template;
    event["choices"] = json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish_reason}}});
    return sse_event(event);
  };
  std::vector<std::string> events = {": keep-alive\n\n", chunk({{"role", "assistant"}, {"content", ""}}, nullptr)};
  for (const std::string& piece : uneven_pieces(completion.reasoning))
    events.push_back(chunk({{"reasoning_content", piece}}, nullptr));
  for (const std::string& piece : uneven_pieces(completion.content))
    events.push_back(chunk({{"content", piece}}, nullptr));
  events.push_back(chunk(json::object(), completion.finish_reason));
  const json& stream_options = request.contains("stream_options") ? request["stream_options"] : json::object();
  if (stream_options.is_object() && stream_options.value("include_usage", false)) {
    json usage_chunk = chunk_template;
    usage_chunk["choices"] = json::array();
    usage_chunk["usage"] = usage_json(completion);
    events.push_back(sse_event(usage_chunk));
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

// How a streamed answer ends.
enum class StreamEnding { complete, cut_short, stalled };

// Writes the events as HTTP chunks cut at odd places, so event boundaries and chunk boundaries differ.
bool write_unevenly(httplib::DataSink& sink, const std::string& bytes) {
  static constexpr size_t kSizes[] = {17, 5, 1, 40, 3, 64};
  size_t start = 0;
  for (size_t turn = 0; start < bytes.size(); ++turn) {
    const size_t size = std::min(bytes.size() - start, kSizes[turn % std::size(kSizes)]);
    if (!sink.write(bytes.data() + start, size)) return false;
    start += size;
  }
  return true;
}

uint16_t port_of(const sockaddr_storage& address) {
  return address.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port) : 0;
}

// httplib does not hand the connection's socket to handlers; find it among this process's descriptors by its
// two ports.
std::optional<int> find_connection_socket(int local_port, int remote_port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    sockaddr_storage local{}, remote{};
    socklen_t local_size = sizeof local, remote_size = sizeof remote;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_size) != 0) continue;
    if (port_of(local) == local_port && port_of(remote) == remote_port) return fd;
  }
  return std::nullopt;
}

class HttpServer : public httplib::Server {
 public:
  // httplib listens with a backlog of 5: a burst of concurrent clients overflows it, and the dropped
  // connection attempts wait out a one-second SYN retransmission. Linux lets listen() raise it in place.
  void widen_listen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

}  // namespace

struct FakeOpenAIServer::State {
  Responder responder;
  HttpServer server;
  int port = 0;
  std::thread listener;

  mutable std::mutex mutex;
  std::condition_variable stop_requested;
  bool stopping = false;
  std::deque<Fault> faults;
  double delay_s = 0.0;
  std::vector<json> bodies;
  std::vector<std::string> authorizations;

  // Returns false when the server is stopping.
  bool wait(std::chrono::duration<double> duration) {
    std::unique_lock lock(mutex);
    return !stop_requested.wait_for(lock, duration, [this] { return stopping; });
  }

  void handle(const httplib::Request& request, httplib::Response& response) {
    const json body = json::parse(request.body, nullptr, false);
    Fault fault = Fault::none;
    double delay_s_now = 0.0;
    std::string id;
    {
      std::lock_guard lock(mutex);
      bodies.push_back(body.is_discarded() ? json() : body);
      authorizations.push_back(request.get_header_value("Authorization"));
      id = "chatcmpl-fake-" + std::to_string(bodies.size());
      if (!faults.empty()) {
        fault = faults.front();
        faults.pop_front();
      }
      delay_s_now = delay_s;
    }
    if (body.is_discarded() || !body.is_object()) {
      response.status = 400;
      response.set_content(error_body("request body is not a JSON object", "invalid_request_error").dump(),
                           "application/json");
      return;
    }
    if (!wait(std::chrono::duration<double>(delay_s_now))) return;
    answer(fault, body, id, request, response);
  }

  void answer(Fault fault, const json& body, const std::string& id, const httplib::Request& request,
              httplib::Response& response) {
    const bool stream = body.value("stream", false);
    switch (fault) {
      case Fault::http_429:
        response.status = 429;
        response.set_header("Retry-After", "0");
        response.set_content(error_body("rate limit reached", "rate_limit_error").dump(), "application/json");
        return;
      case Fault::http_500:
        response.status = 500;
        response.set_content(error_body("the server had an error", "server_error").dump(), "application/json");
        return;
      case Fault::http_400:
        response.status = 400;
        response.set_content(error_body("bad request: max_tokens is too large", "invalid_request_error").dump(),
                             "application/json");
        return;
      case Fault::http_401:
        response.status = 401;
        response.set_content(error_body(rejected_key_message(request), "authentication_error").dump(),
                             "application/json");
        return;
      case Fault::malformed_json:
        if (stream) {
          answer_stream(response, {"data: {\"choices\": [ this is not json\n\n", "data: [DONE]\n\n"},
                        StreamEnding::complete);
        } else {
          response.set_content("{\"choices\": [ this is not json", "application/json");
        }
        return;
      case Fault::drop_connection: drop(request, response); return;
      case Fault::slow:
        if (!wait(kSlowAnswerWait)) return;
        break;
      case Fault::broken_stream: answer_normally(body, id, response, StreamEnding::cut_short); return;
      case Fault::stalled_stream: answer_normally(body, id, response, StreamEnding::stalled); return;
      case Fault::none: break;
    }
    answer_normally(body, id, response, StreamEnding::complete);
  }

  // Echoes the credentials it got, as some APIs do, so that tests can check the client hides them.
  static std::string rejected_key_message(const httplib::Request& request) {
    const std::string authorization = request.get_header_value("Authorization");
    return authorization.empty() ? "invalid api key" : "invalid api key (received '" + authorization + "')";
  }

  void answer_stream(httplib::Response& response, std::vector<std::string> events, StreamEnding ending) {
    if (ending != StreamEnding::complete) events.resize(std::max<size_t>(2, events.size() / 2));
    std::string bytes;
    for (const std::string& event : events) bytes += event;
    response.set_header("Cache-Control", "no-cache");
    response.set_chunked_content_provider("text/event-stream", [this, bytes, ending](size_t, httplib::DataSink& sink) {
      if (!write_unevenly(sink, bytes)) return false;
      if (ending == StreamEnding::stalled) wait(kSlowAnswerWait);  // silent, with the connection open
      if (ending != StreamEnding::complete) return false;          // closes the connection without the last chunk
      sink.done();
      return true;
    });
  }

  void answer_normally(const json& body, const std::string& id, httplib::Response& response, StreamEnding ending) {
    FakeCompletion completion;
    try {
      completion = responder(body);
    } catch (const std::exception& error) {
      response.status = 500;
      response.set_content(error_body(std::string("responder failed: ") + error.what(), "server_error").dump(),
                           "application/json");
      return;
    }
    if (body.value("stream", false) || ending != StreamEnding::complete) {
      answer_stream(response, stream_events(completion, body, id), ending);
    } else {
      response.set_content(completion_json(completion, body, id).dump(), "application/json");
    }
  }

  static void drop(const httplib::Request& request, httplib::Response& response) {
    if (const std::optional<int> socket = find_connection_socket(request.local_port, request.remote_port)) {
      shutdown(*socket, SHUT_RDWR);  // httplib's later write fails quietly and it closes the socket
      return;
    }
    response.status = 500;
    response.set_content(error_body("fake server: cannot find the connection to drop", "server_error").dump(),
                         "application/json");
  }
};

FakeOpenAIServer::FakeOpenAIServer(Responder responder) : state_(std::make_unique<State>()) {
  state_->responder = std::move(responder);
  HttpServer& server = state_->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server.set_tcp_nodelay(true);  // so that each chunk leaves as it is written
  server.set_keep_alive_timeout(1);
  server.Post("/v1/chat/completions",
              [state = state_.get()](const httplib::Request& request, httplib::Response& response) {
                state->handle(request, response);
              });
  state_->port = server.bind_to_any_port("127.0.0.1");
  if (state_->port <= 0) throw std::runtime_error("fake OpenAI server: cannot bind a port on 127.0.0.1");
  server.widen_listen_backlog();
  state_->listener = std::thread([&server] { server.listen_after_bind(); });
  // Connections before the accept loop runs would pile up in httplib's short listen backlog.
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeOpenAIServer::~FakeOpenAIServer() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->stop_requested.notify_all();
  state_->server.stop();
  state_->listener.join();
}

std::string FakeOpenAIServer::base_url() const { return "http://127.0.0.1:" + std::to_string(state_->port) + "/v1"; }

int FakeOpenAIServer::port() const { return state_->port; }

void FakeOpenAIServer::push_faults(std::vector<Fault> faults) {
  std::lock_guard lock(state_->mutex);
  state_->faults.insert(state_->faults.end(), faults.begin(), faults.end());
}

void FakeOpenAIServer::set_delay(double seconds) {
  std::lock_guard lock(state_->mutex);
  state_->delay_s = seconds;
}

int FakeOpenAIServer::request_count() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<int>(state_->bodies.size());
}

std::vector<nlohmann::json> FakeOpenAIServer::request_bodies() const {
  std::lock_guard lock(state_->mutex);
  return state_->bodies;
}

std::vector<std::string> FakeOpenAIServer::authorization_headers() const {
  std::lock_guard lock(state_->mutex);
  return state_->authorizations;
}

}  // namespace rbench::testing
