#pragma once
// GPT-2's byte-level alphabet: every byte is written as one printable character ("Ġ" for a space), so a
// byte-level vocabulary is text. The tokenizer works on raw bytes and converts the vocabulary once.
#include <optional>
#include <string>
#include <string_view>

namespace rbench::engine::detail {

// The bytes a byte-level token stands for ("Ġthe" -> " the"); nullopt if a character of `token` is not
// in the alphabet (tokens like "<｜begin▁of▁sentence｜>" are not byte-level text).
std::optional<std::string> byte_level_to_bytes(std::string_view token);

}  // namespace rbench::engine::detail
