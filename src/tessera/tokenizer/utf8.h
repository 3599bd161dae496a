// UTF-8 helpers shared by the tokenizer: sequence lengths, validity and the boundary between complete and
// incomplete characters. Input is untrusted bytes; nothing here reads past the given length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::tokenizer {

// Length of the UTF-8 sequence that starts with `lead` (1-4), or 0 when `lead` cannot start one
// (a continuation byte, 0xC0/0xC1 or 0xF5..0xFF).
inline size_t utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

// Length of the valid UTF-8 character at s[pos], or 0 when the bytes there are not one (bad lead byte, bad or
// missing continuation, overlong form, surrogate, above U+10FFFF).
size_t utf8_valid_char_length(std::string_view s, size_t pos);

// Decodes the valid character at s[pos] (REQUIRES: utf8_valid_char_length(s, pos) > 0).
char32_t utf8_decode_at(std::string_view s, size_t pos);

// Appends the UTF-8 form of `cp` (REQUIRES: a Unicode scalar value).
void utf8_append(std::string& out, char32_t cp);

bool utf8_is_valid(std::string_view s);

// How many bytes at the end of `s` are the start of a character that more bytes could still complete
// (0 when `s` ends on a character boundary or its tail can never become valid). A streaming decoder holds
// exactly these bytes back.
size_t utf8_incomplete_tail(std::string_view s);

// `s` with each maximal invalid subsequence replaced by U+FFFD, as Python's and Rust's lossy decoders do.
std::string utf8_sanitize(std::string_view s);

}  // namespace tessera::tokenizer
