#pragma once
// Text <-> token ids, as Hugging Face `tokenizers` does it for a tokenizer.json with a BPE model: the
// byte-level BPE of DeepSeek-V3/R1, Qwen2/3 and Llama 3, and the byte-fallback BPE of Llama 2 / Mixtral
// in its classic form (Prepend + Replace normaliser; the newer Metaspace pre-tokenizer is not supported).
//
//   Tokenizer tokenizer = Tokenizer::load("models/qwen3");            // dir/tokenizer.json (+ config)
//   std::vector<int32_t> ids = tokenizer.encode("Hello, world!");     // [9707, 11, 1879, 0]
//   std::string text = tokenizer.decode(ids);                          // "Hello, world!"
//
// Encoding equals `Tokenizer.encode(text, add_special_tokens=...)` of Hugging Face tokenizers and decoding
// equals `decode(ids, skip_special_tokens=...)`. Added tokens ("<|im_start|>", "<think>") are recognised
// in the text before pre-tokenisation. Unsupported parts of a tokenizer.json (a Unigram model, a Metaspace
// pre-tokenizer, ...) make `load` throw rbench::UserError naming the file and the field.
//
// A Tokenizer is immutable once loaded (apart from an internal cache) and safe to use from many threads.
// Copies are cheap and share the tables.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rbench::engine {

namespace detail {
struct TokenizerData;
}

class Tokenizer {
 public:
  // `path` is a tokenizer.json or a model directory holding one. The tokenizer_config.json beside it (for
  // a file "NAME.tokenizer.json", also "NAME.tokenizer_config.json") supplies bos/eos and the chat
  // template when present. Throws UserError if the file is missing, unreadable or unsupported.
  static Tokenizer load(const std::filesystem::path& path);
  // Same, with the tokenizer_config.json named explicitly.
  static Tokenizer load(const std::filesystem::path& tokenizer_json, const std::filesystem::path& tokenizer_config);

  // `add_special_tokens` adds what the tokenizer adds around a sequence (BOS for DeepSeek, per
  // tokenizer_config.json's add_bos_token or the post-processor's template), except that a BOS already at
  // the start of the text (a rendered chat template) is not added a second time.
  // Invalid UTF-8 in `text` is replaced by U+FFFD first.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;

  // Ids the tokenizer does not know are dropped, as Hugging Face does. Bytes that do not form UTF-8
  // become U+FFFD.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // The id of a vocabulary entry or added token, spelled as in tokenizer.json ("Ġthe", "<|im_end|>").
  std::optional<int32_t> token_id(std::string_view token) const;
  // True for added tokens marked "special" (the ones `skip_special_tokens` removes).
  bool is_special(int32_t id) const;
  // The raw bytes a token stands for (what decoding it contributes; may be part of a UTF-8 character).
  std::string_view token_bytes(int32_t id) const;

  // One past the largest id: the model vocabulary plus the added tokens.
  size_t vocab_size() const;

  // From tokenizer_config.json: `bos_token` / `eos_token` (strings or {"content": ...} objects).
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  const std::string& bos_token() const;  // "" when there is none
  const std::string& eos_token() const;
  // The Jinja chat template of tokenizer_config.json (or chat_template.jinja beside it); "" if none.
  const std::string& chat_template() const;

 private:
  explicit Tokenizer(std::shared_ptr<const detail::TokenizerData> data);
  std::shared_ptr<const detail::TokenizerData> data_;
  friend class StreamingDecoder;
};

// Turns generated ids into text as they arrive. A UTF-8 character split over several tokens is held back
// until it is complete, so the concatenation of the pieces equals `decode` of all ids.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  // The text that became complete with this token (often "", or several characters at once).
  std::string push(int32_t id);
  // Whatever is still held back (an unfinished character becomes U+FFFD); the decoder is then empty.
  std::string finish();

 private:
  Tokenizer tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;         // bytes of an unfinished UTF-8 character
  size_t leading_strips_left_;  // characters the decoder may still strip from the start of the text
};

}  // namespace rbench::engine
