#include "tessera/tokenizer/utf8.h"

#include <algorithm>

namespace tessera::tokenizer {

size_t utf8_valid_char_length(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  size_t avail = s.size() - pos;
  size_t n = utf8_sequence_length(p[0]);
  if (n == 0 || n > avail) return 0;
  if (n == 1) return 1;
  // The second byte's range depends on the lead (this excludes overlong forms, surrogates and > U+10FFFF).
  uint8_t lo = 0x80, hi = 0xBF;
  if (p[0] == 0xE0) lo = 0xA0;
  if (p[0] == 0xED) hi = 0x9F;
  if (p[0] == 0xF0) lo = 0x90;
  if (p[0] == 0xF4) hi = 0x8F;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

char32_t utf8_decode_at(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  switch (utf8_sequence_length(p[0])) {
    case 1:
      return p[0];
    case 2:
      return (char32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
      return (char32_t(p[0] & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
      return (char32_t(p[0] & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) | (char32_t(p[2] & 0x3F) << 6) |
             (p[3] & 0x3F);
  }
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool utf8_is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8_valid_char_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t utf8_incomplete_tail(std::string_view s) {
  // A character is at most 4 bytes, so only the last 3 can be an unfinished one.
  size_t max_back = s.size() < 3 ? s.size() : 3;
  for (size_t back = 1; back <= max_back; ++back) {
    auto b = static_cast<uint8_t>(s[s.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead
    size_t need = utf8_sequence_length(b);
    if (need <= back) return 0;  // ASCII, a bad lead, or a sequence that is already complete (or too long)
    // Check that the bytes we have are a valid prefix: the full check would fail only for missing bytes.
    std::string_view tail = s.substr(s.size() - back);
    std::string padded(tail);
    // Pad with the smallest continuation allowed in each position, then validate.
    auto lead = static_cast<uint8_t>(padded[0]);
    while (padded.size() < need) {
      uint8_t c = 0x80;
      if (padded.size() == 1 && lead == 0xE0) c = 0xA0;
      if (padded.size() == 1 && lead == 0xF0) c = 0x90;
      padded += static_cast<char>(c);
    }
    return utf8_valid_char_length(padded, 0) == need ? back : 0;
  }
  return 0;
}

std::string utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_valid_char_length(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    // One U+FFFD per maximal subpart of an ill-formed sequence (Unicode's "best practice", which Python and
    // Rust follow): a valid prefix of a sequence is consumed with its lead.
    size_t j = i + 1;
    size_t need = utf8_sequence_length(static_cast<uint8_t>(s[i]));
    if (need > 1) {
      std::string_view rest = s.substr(i, std::min(need, s.size() - i));
      for (size_t k = 1; k < rest.size(); ++k) {
        std::string prefix(rest.substr(0, k + 1));
        if (utf8_incomplete_tail(prefix) != k + 1) break;
        j = i + k + 1;
      }
    }
    out += "\xEF\xBF\xBD";
    i = j;
  }
  return out;
}

}  // namespace tessera::tokenizer
