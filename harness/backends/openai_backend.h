#pragma once
// Backend for any server that speaks OpenAI's /chat/completions (OpenAI, DeepSeek, vLLM, SGLang, llama.cpp).
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "harness/backends/backend.h"

namespace rbench {

// `base_url` is the API root ("https://api.deepseek.com/v1"); "/chat/completions" is appended unless the
// URL already ends with it. The API key is read once, here, from the variable `options.api_key_env`
// (absent: no Authorization header, for local servers); it never appears in identity(), results or errors.
// Throws UserError when the URL cannot be parsed or is not http(s).
std::unique_ptr<Backend> make_openai_backend(const std::string& model, const std::string& base_url,
                                             const BackendOptions& options);

// Incremental decoder of a text/event-stream body: feed it bytes as they arrive, split anywhere, and
// it calls `on_data` once per complete event with the event's data lines joined by '\n'.
// Comments (": keep-alive") and events without data are dropped; fields other than data are ignored.
class ServerSentEventDecoder {
 public:
  using DataHandler = std::function<void(std::string_view data)>;
  explicit ServerSentEventDecoder(DataHandler on_data) : on_data_(std::move(on_data)) {}
  void feed(std::string_view bytes);

 private:
  void handle_line(std::string_view line);

  DataHandler on_data_;
  std::string pending_line_;
  std::string event_data_;
  bool has_data_ = false;
  bool skip_next_line_feed_ = false;  // the last line ended with '\r', which may be half of "\r\n"
};

}  // namespace rbench
