#include "tessera/tokenizer/byte_level.h"

#include <array>

#include "tessera/tokenizer/utf8.h"

namespace tessera::tokenizer {
namespace {

// Printable bytes stand for themselves; the others (controls, space, 0x7F-0xA0, 0xAD) are moved, in byte order,
// to U+0100 onwards. This is the table GPT-2 published and every byte-level BPE since reuses.
struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 324> to_byte{};  // index: code point; -1 when not in the alphabet
  Tables() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t c = printable ? char32_t(b) : next++;
      to_char[b] = c;
      to_byte[c] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

std::optional<uint8_t> char_to_byte(char32_t c) {
  if (c >= tables().to_byte.size() || tables().to_byte[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[c]);
}

std::optional<std::string> byte_level_decode(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    size_t n = utf8_valid_char_length(piece, i);
    if (n == 0) return std::nullopt;
    auto b = char_to_byte(utf8_decode_at(piece, i));
    if (!b) return std::nullopt;
    out += static_cast<char>(*b);
    i += n;
  }
  return out;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  for (char c : bytes) utf8_append(out, byte_to_char(static_cast<uint8_t>(c)));
  return out;
}

}  // namespace tessera::tokenizer
