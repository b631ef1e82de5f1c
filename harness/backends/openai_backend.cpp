#include "harness/backends/openai_backend.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/error.h"
#include "harness/backends/reasoning.h"
#include "harness/backends/usage.h"
#include "rbench_version.h"

namespace rbench {

// ---------------------------------------------------------------------------------------------------
// Server-sent events

void ServerSentEventDecoder::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (skip_next_line_feed_) {
      skip_next_line_feed_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const size_t line_end = bytes.find_first_of("\r\n");
    if (line_end == std::string_view::npos) {
      pending_line_.append(bytes);
      return;
    }
    pending_line_.append(bytes.substr(0, line_end));
    skip_next_line_feed_ = bytes[line_end] == '\r';
    bytes.remove_prefix(line_end + 1);
    const std::string line = std::move(pending_line_);
    pending_line_.clear();
    handle_line(line);
  }
}

void ServerSentEventDecoder::handle_line(std::string_view line) {
  if (line.empty()) {  // a blank line ends the event
    if (has_data_) on_data_(event_data_);
    event_data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment, used as keep-alive
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;
  if (has_data_) event_data_ += '\n';
  event_data_.append(value);
  has_data_ = true;
}

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kMaxBackoffSeconds = 60.0;
// A Retry-After beyond this is more likely a misconfigured proxy than a real quota window.
constexpr double kMaxRetryAfterSeconds = 600.0;
// The longest silence tolerated within a stream; servers send tokens or keep-alive comments far more often.
constexpr double kMaxStallSeconds = 120.0;
constexpr long kCancellationPollMs = 50;
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;
constexpr size_t kExcerptChars = 160;

// ---------------------------------------------------------------------------------------------------
// libcurl plumbing

void initialize_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("libcurl failed to initialise");
  });
}

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct CurlHeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlHeaderList = std::unique_ptr<curl_slist, CurlHeaderListDeleter>;
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

// DNS answers and TLS sessions are shared by all of a backend's transfers, so a retry or the next request
// skips those round trips. Connections are not shared: libcurl does not support sharing its connection
// cache between concurrent threads.
class CurlSharedCaches {
 public:
  CurlSharedCaches() : share_(curl_share_init()) {
    if (share_ == nullptr) throw std::runtime_error("libcurl could not create a share handle");
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~CurlSharedCaches() { curl_share_cleanup(share_); }
  CurlSharedCaches(const CurlSharedCaches&) = delete;
  CurlSharedCaches& operator=(const CurlSharedCaches&) = delete;

  CURLSH* handle() const { return share_; }

 private:
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<CurlSharedCaches*>(self)->mutexes_.at(data).lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<CurlSharedCaches*>(self)->mutexes_.at(data).unlock();
  }

  CURLSH* share_;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> mutexes_;
};

long to_milliseconds(double seconds) { return std::max(1L, static_cast<long>(std::llround(seconds * 1000.0))); }

// ---------------------------------------------------------------------------------------------------
// Endpoint

struct Endpoint {
  std::string request_url;  // what is requested: may carry credentials and a query (e.g. api-version)
  std::string shown_url;    // the endpoint as messages name it: no credentials, no query
  std::string location;     // the base URL as identity() reports it: no credentials, no query
};

std::string url_part(CURLU* url, CURLUPart part) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, 0) != CURLUE_OK || text == nullptr) return "";
  std::string copy = text;
  curl_free(text);
  return copy;
}

std::string chat_completions_path(std::string path) {
  constexpr std::string_view kSuffix = "/chat/completions";
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.ends_with(kSuffix)) return path;
  return path + std::string(kSuffix);
}

Endpoint resolve_endpoint(const std::string& base_url) {
  CurlUrl url(curl_url());
  if (url == nullptr) throw std::runtime_error("libcurl could not create a URL handle");
  // The URL itself stays out of the message: it may carry credentials.
  if (curl_url_set(url.get(), CURLUPART_URL, base_url.c_str(), 0) != CURLUE_OK)
    throw UserError("openai backend: cannot parse the API base URL; expected http(s)://HOST[:PORT]/PATH");
  const std::string scheme = url_part(url.get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https")
    throw UserError("openai backend: the API base URL must start with http:// or https://");

  const std::string base_path = url_part(url.get(), CURLUPART_PATH);
  Endpoint endpoint;
  curl_url_set(url.get(), CURLUPART_FRAGMENT, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_PATH, chat_completions_path(base_path).c_str(), 0);
  endpoint.request_url = url_part(url.get(), CURLUPART_URL);
  for (CURLUPart secret : {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS, CURLUPART_QUERY})
    curl_url_set(url.get(), secret, nullptr, 0);
  endpoint.shown_url = url_part(url.get(), CURLUPART_URL);
  curl_url_set(url.get(), CURLUPART_PATH, base_path.c_str(), 0);
  endpoint.location = url_part(url.get(), CURLUPART_URL);
  return endpoint;
}

// ---------------------------------------------------------------------------------------------------
// Request and response JSON

json build_request_body(const std::string& model, const GenerationRequest& request, bool stream) {
  json messages = json::array();
  for (const ChatMessage& message : request.messages)
    messages.push_back({{"role", message.role}, {"content", message.content}});
  // The assistant prefill is not sent: hosted APIs reject or ignore a trailing partial assistant turn.
  json body = {{"model", model},
               {"messages", std::move(messages)},
               {"temperature", request.sampling.temperature},
               {"top_p", request.sampling.top_p},
               {"max_tokens", request.sampling.max_tokens},
               {"stream", stream}};
  // Servers validate the seed as a signed 64-bit integer (vLLM rejects larger ones).
  if (request.sampling.seed) body["seed"] = static_cast<int64_t>(*request.sampling.seed & INT64_MAX);
  if (stream) body["stream_options"] = {{"include_usage", true}};
  return body;
}

std::string string_field(const json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

const json& object_field(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  const auto found = object.find(key);
  return found != object.end() ? *found : kNull;
}

// Bytes a server sent, made safe to put in a message: ASCII only (so it is valid UTF-8), one line, short.
std::string excerpt(std::string_view text) {
  std::string shown;
  for (char c : text.substr(0, kExcerptChars)) {
    const auto byte = static_cast<unsigned char>(c);
    shown += byte < 0x20 ? ' ' : byte >= 0x7f ? '?' : c;
  }
  if (text.size() > kExcerptChars) shown += "...";
  return shown;
}

// OpenAI's {"error": {"message": ...}}, plus the shapes other servers use.
std::string error_message_of(const json& body) {
  const json& error = object_field(body, "error");
  if (error.is_string()) return error.get<std::string>();
  for (const char* key : {"message", "detail"}) {
    if (std::string message = string_field(error, key); !message.empty()) return message;
    if (std::string message = string_field(body, key); !message.empty()) return message;
  }
  return "";
}

std::string server_message(const std::string& body) {
  const json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_discarded()) {
    if (std::string message = error_message_of(parsed); !message.empty()) return excerpt(message);
  }
  return excerpt(body);
}

std::string_view reason_phrase(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

std::string describe_http_error(long status, const std::string& body) {
  const std::string_view reason = reason_phrase(status);
  std::string description = reason.empty() ? fmt::format("HTTP {}", status) : fmt::format("{} {}", status, reason);
  if (std::string message = server_message(body); !message.empty()) description += ": " + message;
  return description;
}

// Rate limits, server faults and gateway timeouts clear up; a bad request, key or model does not.
bool is_retryable_status(long status) { return status == 408 || status == 409 || status == 429 || status >= 500; }

// Transport failures that no retry can fix: the configuration is wrong.
bool is_permanent_transport_error(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER: return true;
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// One completion, as the server sent it

struct Completion {
  std::string content;
  std::string reasoning;
  std::string finish_reason;
  TokenUsage usage;
};

// `part` is a streamed delta or a whole message. Some servers send the reasoning both as
// reasoning_content and as reasoning; only one is taken.
void append_text(const json& part, Completion& completion) {
  completion.content += string_field(part, "content");
  std::string reasoning = string_field(part, "reasoning_content");
  if (reasoning.empty()) reasoning = string_field(part, "reasoning");
  completion.reasoning += reasoning;
}

// A usage field of the wrong type makes the response as broken as bad JSON would.
std::optional<TokenUsage> usage_of(const json& usage) {
  try {
    return usage_from_openai_json(usage);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string malformed_response(const std::string& url, std::string_view body) {
  return fmt::format("malformed response from {}: {}", url, excerpt(body));
}

// A non-streamed chat.completion body, or why it is not one.
struct ParsedCompletion {
  std::optional<Completion> completion;
  std::string problem;
};

ParsedCompletion parse_completion(const std::string& body, const std::string& url) {
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return {std::nullopt, malformed_response(url, body)};
  if (parsed.contains("error")) return {std::nullopt, "server error: " + excerpt(error_message_of(parsed))};
  const json& choices = object_field(parsed, "choices");
  if (!choices.is_array() || choices.empty() || !object_field(choices[0], "message").is_object())
    return {std::nullopt, malformed_response(url, body)};
  Completion completion;
  append_text(object_field(choices[0], "message"), completion);
  completion.finish_reason = string_field(choices[0], "finish_reason");
  const std::optional<TokenUsage> usage = usage_of(object_field(parsed, "usage"));
  if (!usage) return {std::nullopt, malformed_response(url, body)};
  completion.usage = *usage;
  return {std::move(completion), ""};
}

// Accumulates the chunks of a streamed chat.completion.
class StreamedCompletion {
 public:
  explicit StreamedCompletion(std::string url) : url_(std::move(url)) {}

  // Returns why the event is not a valid chunk, if it is not.
  std::optional<std::string> add_event(std::string_view data) {
    if (done_) return std::nullopt;
    if (data == "[DONE]") {
      done_ = true;
      return std::nullopt;
    }
    const json chunk = json::parse(data, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) return malformed_response(url_, data);
    if (chunk.contains("error")) return "server error in stream: " + excerpt(error_message_of(chunk));
    if (const json& usage = object_field(chunk, "usage"); usage.is_object()) {
      const std::optional<TokenUsage> parsed = usage_of(usage);
      if (!parsed) return malformed_response(url_, data);
      completion_.usage = *parsed;
    }
    const json& choices = object_field(chunk, "choices");
    if (choices.is_array() && !choices.empty()) {
      append_text(object_field(choices[0], "delta"), completion_);
      if (std::string reason = string_field(choices[0], "finish_reason"); !reason.empty())
        completion_.finish_reason = std::move(reason);
    }
    return std::nullopt;
  }

  bool done() const { return done_; }
  bool finished() const { return !completion_.finish_reason.empty(); }
  const Completion& completion() const { return completion_; }

 private:
  std::string url_;  // for messages
  Completion completion_;
  bool done_ = false;
};

GenerationResult to_result(const Completion& completion, double latency_s) {
  GenerationResult result;
  result.usage = completion.usage;
  result.finish_reason = completion.finish_reason;
  result.latency_s = latency_s;
  if (!completion.reasoning.empty()) {
    result.reasoning = completion.reasoning;
    result.answer = completion.content;
    return result;
  }
  // A </think> without <think>: the chat template opened the block in the prompt.
  const bool starts_in_think = completion.content.find("<think>") == std::string::npos &&
                               completion.content.find("</think>") != std::string::npos;
  ReasoningSplit split = split_reasoning(completion.content, starts_in_think);
  result.reasoning = std::move(split.reasoning);
  result.answer = std::move(split.answer);
  return result;
}

// ---------------------------------------------------------------------------------------------------
// One HTTP exchange

bool starts_with_ignoring_case(std::string_view text, std::string_view lowercase_prefix) {
  if (text.size() < lowercase_prefix.size()) return false;
  for (size_t i = 0; i < lowercase_prefix.size(); ++i) {
    const char c = text[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != lowercase_prefix[i]) return false;
  }
  return true;
}

// Receives headers and body of one attempt from libcurl's callbacks.
class ResponseReader {
 public:
  ResponseReader(CURL* easy, const std::string& url)
      : easy_(easy), stream_(url), decoder_([this](std::string_view data) { on_event(data); }) {}
  ResponseReader(const ResponseReader&) = delete;  // libcurl and the decoder hold its address
  ResponseReader& operator=(const ResponseReader&) = delete;

  size_t on_header(std::string_view line) {
    last_activity_ = Clock::now();
    if (line.starts_with("HTTP/")) retry_after_s_.reset();  // a new response (after a 100 Continue)
    constexpr std::string_view kRetryAfter = "retry-after:";
    if (starts_with_ignoring_case(line, kRetryAfter)) {
      const std::string value(line.substr(kRetryAfter.size()));
      char* end = nullptr;
      const double seconds = std::strtod(value.c_str(), &end);
      // The HTTP-date form is left to the backoff schedule.
      if (end != value.c_str() && std::isfinite(seconds) && seconds >= 0) retry_after_s_ = seconds;
    }
    return line.size();
  }

  // Returning less than it was given aborts the transfer.
  size_t on_body(std::string_view bytes) {
    last_activity_ = Clock::now();
    if (!mode_) mode_ = detect_mode();
    if (*mode_ == Mode::event_stream) {
      decoder_.feed(bytes);
      return stream_problem_ ? 0 : bytes.size();
    }
    if (status() != 200 && body_.size() >= kMaxErrorBodyBytes) return bytes.size();  // the head is enough
    body_.append(bytes);
    return bytes.size();
  }

  long status() const {
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }
  bool is_event_stream() const { return mode_ == Mode::event_stream; }
  const std::string& body() const { return body_; }
  const StreamedCompletion& stream() const { return stream_; }
  const std::optional<std::string>& stream_problem() const { return stream_problem_; }
  std::optional<double> retry_after_s() const { return retry_after_s_; }
  Clock::time_point last_activity() const { return last_activity_; }

 private:
  enum class Mode { event_stream, whole_body };

  // Servers may answer a streaming request with one JSON body (or an error page): the content type decides.
  Mode detect_mode() const {
    const char* content_type = nullptr;
    curl_easy_getinfo(easy_, CURLINFO_CONTENT_TYPE, &content_type);
    const bool is_sse =
        content_type != nullptr && std::string_view(content_type).find("text/event-stream") != std::string_view::npos;
    return status() == 200 && is_sse ? Mode::event_stream : Mode::whole_body;
  }

  void on_event(std::string_view data) {
    if (stream_problem_) return;
    stream_problem_ = stream_.add_event(data);
  }

  CURL* easy_;
  std::optional<Mode> mode_;
  std::string body_;
  StreamedCompletion stream_;
  std::optional<std::string> stream_problem_;
  std::optional<double> retry_after_s_;
  Clock::time_point last_activity_ = Clock::now();
  ServerSentEventDecoder decoder_;
};

size_t receive_header(char* data, size_t size, size_t count, void* reader) {
  return static_cast<ResponseReader*>(reader)->on_header({data, size * count});
}

size_t receive_body(char* data, size_t size, size_t count, void* reader) {
  return static_cast<ResponseReader*>(reader)->on_body({data, size * count});
}

struct TransferEnd {
  CURLcode code = CURLE_OK;
  std::string failure;  // libcurl's description when code is not CURLE_OK
  bool cancelled = false;
};

// What ends a transfer early, besides libcurl's own timeouts. (libcurl's low-speed limit averages over a
// window of several seconds, so it notices a stall late; watching for silence is exact.)
struct TransferWatch {
  const std::atomic<bool>* cancelled = nullptr;
  std::optional<Clock::duration> stall_limit;  // the longest silence tolerated from the server
};

// Runs the transfer through a multi handle so that cancellation and stalls are noticed within
// kCancellationPollMs, whether or not bytes are flowing.
TransferEnd run_transfer(CURL* easy, const ResponseReader& reader, const TransferWatch& watch,
                         const char* error_buffer) {
  CurlMulti multi(curl_multi_init());
  if (multi == nullptr) return {CURLE_OUT_OF_MEMORY, "libcurl could not create a multi handle", false};
  curl_multi_add_handle(multi.get(), easy);
  TransferEnd end;
  for (;;) {
    int running = 0;
    if (const CURLMcode code = curl_multi_perform(multi.get(), &running); code != CURLM_OK) {
      end = {CURLE_RECV_ERROR, curl_multi_strerror(code), false};
      break;
    }
    if (running == 0) {
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
        if (message->msg == CURLMSG_DONE) end.code = message->data.result;
      }
      break;
    }
    if (watch.cancelled != nullptr && watch.cancelled->load()) {
      end.cancelled = true;
      break;
    }
    if (watch.stall_limit && Clock::now() - reader.last_activity() > *watch.stall_limit) {
      const double limit_s = std::chrono::duration<double>(*watch.stall_limit).count();
      end = {CURLE_OPERATION_TIMEDOUT, fmt::format("the stream stalled: nothing received for {:.3g} s", limit_s),
             false};
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, kCancellationPollMs, nullptr);
  }
  curl_multi_remove_handle(multi.get(), easy);
  if (end.code != CURLE_OK && end.failure.empty())
    end.failure = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(end.code);
  return end;
}

// ---------------------------------------------------------------------------------------------------
// The backend

struct AttemptOutcome {
  enum class Kind { success, retryable, permanent, cancelled };
  Kind kind = Kind::retryable;
  GenerationResult result;  // when success
  std::string cause;        // when it failed
  std::optional<double> retry_after_s;
};

AttemptOutcome failed(AttemptOutcome::Kind kind, std::string cause, std::optional<double> retry_after_s = {}) {
  return {kind, {}, std::move(cause), retry_after_s};
}

bool is_cancelled(const GenerationRequest& request) {
  return request.cancelled != nullptr && request.cancelled->load();
}

// Sleeps in short slices so that a cancelled request does not wait out its backoff.
bool sleep_unless_cancelled(double seconds, const GenerationRequest& request) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < deadline) {
    if (is_cancelled(request)) return false;
    const Clock::duration slice =
        std::min<Clock::duration>(deadline - Clock::now(), std::chrono::milliseconds(kCancellationPollMs));
    std::this_thread::sleep_for(slice);
  }
  return !is_cancelled(request);
}

GenerationResult cancelled_result() {
  GenerationResult result;
  result.finish_reason = "cancelled";
  result.error = "cancelled";
  return result;
}

class OpenAIBackend final : public Backend {
 public:
  OpenAIBackend(std::string model, const std::string& base_url, const BackendOptions& options)
      : model_(std::move(model)), endpoint_(resolve_endpoint(base_url)), options_(options) {
    if (const char* key = std::getenv(options.api_key_env.c_str()); key != nullptr && *key != '\0') api_key_ = key;
  }

  ModelIdentity identity() const override { return {model_, "openai", endpoint_.location, ""}; }

  GenerationResult generate(const GenerationRequest& request) override {
    if (request.messages.empty()) return failed_result("the openai backend needs chat messages; this request has none");
    const std::string body =
        build_request_body(model_, request, options_.stream).dump(-1, ' ', false, json::error_handler_t::replace);
    const int attempts = 1 + std::max(0, options_.max_retries);
    std::string last_cause;
    std::optional<double> retry_after_s;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0 && !sleep_unless_cancelled(backoff_seconds(attempt - 1, retry_after_s), request))
        return cancelled_result();
      if (is_cancelled(request)) return cancelled_result();
      AttemptOutcome outcome = attempt_once(body, request);
      switch (outcome.kind) {
        case AttemptOutcome::Kind::success: return std::move(outcome.result);
        case AttemptOutcome::Kind::cancelled: return cancelled_result();
        case AttemptOutcome::Kind::permanent:
          return failed_result(fmt::format("request to {} failed: {}", endpoint_.shown_url, outcome.cause));
        case AttemptOutcome::Kind::retryable:
          last_cause = std::move(outcome.cause);
          retry_after_s = outcome.retry_after_s;
          break;
      }
    }
    return failed_result(
        fmt::format("request to {} failed after {} attempts: {}", endpoint_.shown_url, attempts, last_cause));
  }

 private:
  AttemptOutcome attempt_once(const std::string& body, const GenerationRequest& request) const {
    CurlEasy easy(curl_easy_init());
    if (easy == nullptr) return failed(AttemptOutcome::Kind::retryable, "libcurl could not create a handle");
    ResponseReader reader(easy.get(), endpoint_.shown_url);
    const CurlHeaderList headers = request_headers();
    char error_buffer[CURL_ERROR_SIZE] = {};
    configure(easy.get(), body, headers.get(), reader, error_buffer);

    const auto start = Clock::now();
    const TransferEnd end = run_transfer(easy.get(), reader, watch_for(request), error_buffer);
    const double latency_s = std::chrono::duration<double>(Clock::now() - start).count();
    if (end.cancelled) return failed(AttemptOutcome::Kind::cancelled, "cancelled");
    return judge(end, reader, latency_s);
  }

  TransferWatch watch_for(const GenerationRequest& request) const {
    TransferWatch watch{request.cancelled, std::nullopt};
    // A silent stream has stalled. Whole-body answers are silent until they are done, so they only time out.
    if (options_.stream) {
      const double stall_s = std::min(options_.request_timeout_s / 4.0, kMaxStallSeconds);
      watch.stall_limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(stall_s));
    }
    return watch;
  }

  CurlHeaderList request_headers() const {
    curl_slist* list = nullptr;
    list = curl_slist_append(list, "Content-Type: application/json");
    list = curl_slist_append(list, options_.stream ? "Accept: text/event-stream" : "Accept: application/json");
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for large prompts
    if (api_key_) list = curl_slist_append(list, ("Authorization: Bearer " + *api_key_).c_str());
    return CurlHeaderList(list);
  }

  void configure(CURL* easy, const std::string& body, curl_slist* headers, ResponseReader& reader,
                 char* error_buffer) const {
    curl_easy_setopt(easy, CURLOPT_URL, endpoint_.request_url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "rbench/" RBENCH_VERSION);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // signals and threads do not mix
    curl_easy_setopt(easy, CURLOPT_SHARE, shared_caches_.handle());
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, to_milliseconds(options_.connect_timeout_s));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, to_milliseconds(options_.request_timeout_s));
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &receive_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &reader);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &receive_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &reader);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  }

  AttemptOutcome judge(const TransferEnd& end, const ResponseReader& reader, double latency_s) const {
    using Kind = AttemptOutcome::Kind;
    if (reader.stream_problem()) return failed(Kind::retryable, *reader.stream_problem());
    // Whatever broke after [DONE] lost nothing.
    if (reader.is_event_stream() && reader.stream().done()) return succeeded(reader.stream().completion(), latency_s);
    if (end.code == CURLE_OPERATION_TIMEDOUT) return failed(Kind::retryable, "timed out: " + end.failure);
    if (end.code != CURLE_OK) {
      const Kind kind = is_permanent_transport_error(end.code) ? Kind::permanent : Kind::retryable;
      const std::string what = reader.is_event_stream() ? "stream broke before [DONE]" : "transfer failed";
      return failed(kind, fmt::format("{}: {}", what, end.failure));
    }
    const long status = reader.status();
    if (status != 200) {
      const Kind kind = is_retryable_status(status) ? Kind::retryable : Kind::permanent;
      return failed(kind, describe_http_error(status, reader.body()), reader.retry_after_s());
    }
    if (reader.is_event_stream()) {
      if (!reader.stream().finished()) return failed(Kind::retryable, "stream ended before a finish_reason or [DONE]");
      return succeeded(reader.stream().completion(), latency_s);
    }
    ParsedCompletion parsed = parse_completion(reader.body(), endpoint_.shown_url);
    if (!parsed.completion) return failed(Kind::retryable, std::move(parsed.problem));
    return succeeded(*parsed.completion, latency_s);
  }

  static AttemptOutcome succeeded(const Completion& completion, double latency_s) {
    return {AttemptOutcome::Kind::success, to_result(completion, latency_s), "", std::nullopt};
  }

  double backoff_seconds(int retry_index, std::optional<double> retry_after_s) const {
    if (retry_after_s) return std::min(*retry_after_s, kMaxRetryAfterSeconds);
    const double ceiling = std::min(options_.backoff_initial_s * std::pow(2.0, retry_index), kMaxBackoffSeconds);
    // Jitter spreads out the retries of the many threads that one outage hits at the same moment.
    thread_local std::mt19937_64 random(std::random_device{}());
    return ceiling * std::uniform_real_distribution<double>(0.5, 1.0)(random);
  }

  // Servers echo keys in their messages ("Incorrect API key provided: sk-..."): no error leaves with it.
  GenerationResult failed_result(std::string message) const {
    if (api_key_) {
      constexpr std::string_view kRedacted = "[redacted]";
      for (size_t at = message.find(*api_key_); at != std::string::npos;
           at = message.find(*api_key_, at + kRedacted.size()))
        message.replace(at, api_key_->size(), kRedacted);
    }
    GenerationResult result;
    result.finish_reason = "error";
    result.error = std::move(message);
    return result;
  }

  const std::string model_;
  const Endpoint endpoint_;
  const BackendOptions options_;
  std::optional<std::string> api_key_;
  CurlSharedCaches shared_caches_;
};

}  // namespace

std::unique_ptr<Backend> make_openai_backend(const std::string& model, const std::string& base_url,
                                             const BackendOptions& options) {
  initialize_curl_once();
  return std::make_unique<OpenAIBackend>(model, base_url, options);
}

}  // namespace rbench
