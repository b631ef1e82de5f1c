#pragma once
// Text helpers: UTF-8 checks and repairs with the exact policy of Rust's String::from_utf8_lossy (what
// Hugging Face decoding produces), Unicode properties and normal forms (through utf8proc), replace_all.
#include <cstddef>
#include <string>
#include <string_view>

namespace rbench::engine::detail {

bool is_valid_utf8(std::string_view text);

// Each maximal invalid subsequence becomes one U+FFFD.
std::string to_valid_utf8(std::string_view bytes);

// How many bytes at the end of `bytes` begin a UTF-8 character that is valid so far but unfinished
// (0 to 3). A streaming decoder holds these back until the rest arrives.
size_t unfinished_utf8_tail(std::string_view bytes);

// Bytes in the UTF-8 character that starts with `lead` (1 for ASCII and for bytes that cannot start one).
size_t utf8_char_length(unsigned char lead);

// The code point of the valid UTF-8 character at the start of `text` (which must not be empty).
char32_t first_code_point(std::string_view text);
char32_t last_code_point(std::string_view text);

// Rust's char::is_whitespace (the Unicode White_Space property).
bool is_unicode_whitespace(char32_t code_point);
// Rust's char::is_alphanumeric, approximated by the general categories L* and N*.
bool is_unicode_alphanumeric(char32_t code_point);

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content);

enum class NormalForm { nfc, nfd, nfkc, nfkd };
std::string normalize_unicode(std::string_view valid_utf8, NormalForm form);

}  // namespace rbench::engine::detail
