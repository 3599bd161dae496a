// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable Unicode character, so a
// byte-level vocabulary can be stored as text ("Ġ" is the space byte 0x20). tessera converts such vocabularies
// to raw bytes once at load, so encoding never maps the input text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::tokenizer {

// The character that stands for byte `b`.
char32_t byte_to_char(uint8_t b);

// The byte that character `c` stands for; nullopt when `c` is not in the alphabet.
std::optional<uint8_t> char_to_byte(char32_t c);

// The raw bytes of a piece written in the alphabet; nullopt when any character is outside it (such pieces,
// like added tokens, are kept as they are by the caller).
std::optional<std::string> byte_level_decode(std::string_view piece);

// The alphabet form of raw bytes (for tests and diagnostics).
std::string byte_level_encode(std::string_view bytes);

}  // namespace tessera::tokenizer
