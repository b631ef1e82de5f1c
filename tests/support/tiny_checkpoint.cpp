#include "support/tiny_checkpoint.h"

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace rbench::testing {

namespace {

// GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest map to U+0100 onwards.
std::string byte_symbol(int byte) {
  const bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
  int code_point = byte;
  if (!printable) {
    int shifted = 0;
    for (int b = 0; b < byte; ++b) {
      const bool p = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      if (!p) ++shifted;
    }
    code_point = 256 + shifted;
  }
  std::string utf8;
  if (code_point < 0x80) {
    utf8.push_back(static_cast<char>(code_point));
  } else {
    utf8.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    utf8.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
  return utf8;
}

nlohmann::json tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[byte_symbol(byte)] = byte;
  nlohmann::json added = nlohmann::json::array();
  int id = 256;
  for (const char* token : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"}) {
    added.push_back({{"id", id++}, {"content", token}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}};
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
            {"ignore_merges", false}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
}

// The ChatML template of Qwen2.5 without its default system prompt.
constexpr const char* kChatTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

}  // namespace

bool make_tiny_checkpoint(const std::filesystem::path& dir, const std::string& family) {
  const auto fixture = shared_dir() / "fixtures" / "models" / family;
  if (!std::filesystem::exists(fixture / "model.safetensors")) return false;
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink(std::filesystem::absolute(fixture / "model.safetensors"), dir / "model.safetensors");
  std::filesystem::copy_file(fixture / "config.json", dir / "config.json");
  write_file(dir / "tokenizer.json", tokenizer_json().dump());
  write_file(dir / "tokenizer_config.json",
             nlohmann::json{{"eos_token", "<|im_end|>"}, {"bos_token", nullptr}, {"chat_template", kChatTemplate}}
                 .dump());
  return true;
}

}  // namespace rbench::testing
