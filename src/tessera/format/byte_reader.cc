#include "tessera/format/byte_reader.h"

#include <cstdio>

namespace tessera::format {

std::string quote_for_message(std::string_view s, size_t max_bytes, char quote) {
  size_t n = s.size();
  if (n > max_bytes) {
    n = max_bytes;
    while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;  // back up to a UTF-8 lead byte
  }
  std::string out(1, quote);
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<uint8_t>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += quote;
  if (n < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace tessera::format
