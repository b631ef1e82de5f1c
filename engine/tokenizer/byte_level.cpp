#include "engine/tokenizer/byte_level.h"

#include <array>
#include <cstdint>

#include "engine/tokenizer/text.h"

namespace rbench::engine::detail {

namespace {

// The alphabet maps the printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') to themselves and the other 68
// bytes, in increasing order, to U+0100, U+0101, ...; so every character of the alphabet is below U+0144.
constexpr char32_t kAlphabetEnd = 0x144;

bool is_printable_byte(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

// Indexed by code point: the byte it stands for, or -1.
std::array<int16_t, kAlphabetEnd> make_character_to_byte() {
  std::array<int16_t, kAlphabetEnd> table{};
  table.fill(-1);
  char32_t next_shifted = 0x100;
  for (int byte = 0; byte < 256; ++byte) {
    const char32_t character = is_printable_byte(byte) ? static_cast<char32_t>(byte) : next_shifted++;
    table[character] = static_cast<int16_t>(byte);
  }
  return table;
}

}  // namespace

std::optional<std::string> byte_level_to_bytes(std::string_view token) {
  static const std::array<int16_t, kAlphabetEnd> character_to_byte = make_character_to_byte();
  std::string bytes;
  bytes.reserve(token.size());
  while (!token.empty()) {
    const size_t length = utf8_char_length(static_cast<unsigned char>(token.front()));
    if (length > token.size()) return std::nullopt;
    const char32_t character = first_code_point(token.substr(0, length));
    if (character >= kAlphabetEnd || character_to_byte[character] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(character_to_byte[character]));
    token.remove_prefix(length);
  }
  return bytes;
}

}  // namespace rbench::engine::detail
