#include "tessera/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "tessera/tokenizer/utf8.h"

namespace tessera::tokenizer {
namespace {

// Runs `fn(valid_run, out)` on each maximal valid UTF-8 run of `in` and copies invalid bytes through.
template <typename Fn>
void for_valid_runs(std::string_view in, std::string& out, Fn fn) {
  size_t i = 0;
  while (i < in.size()) {
    size_t j = i;
    while (j < in.size()) {
      size_t n = utf8_valid_char_length(in, j);
      if (n == 0) break;
      j += n;
    }
    if (j > i) fn(in.substr(i, j - i), out);
    if (j < in.size()) out += in[j++];
    i = j;
  }
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

void normal_form(std::string_view in, std::string& out, int options) {
  // ASCII is stable under every form. For NFC so is all text below U+0300 (lead bytes under 0xCC): those
  // characters are already composed and only a combining mark (U+0300 and up) could join them.
  const unsigned limit = (options & UTF8PROC_COMPOSE) && !(options & UTF8PROC_COMPAT) ? 0xCC : 0x80;
  bool quick = true;
  for (char c : in) {
    if (static_cast<unsigned char>(c) >= limit) {
      quick = false;
      break;
    }
  }
  if (quick) {
    out.append(in);
    return;
  }
  for_valid_runs(in, out, [options](std::string_view run, std::string& o) {
    utf8proc_uint8_t* result = nullptr;
    utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()), static_cast<utf8proc_ssize_t>(run.size()),
                     &result, static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
    if (n < 0) {
      o.append(run);
    } else {
      o.append(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
    }
    std::free(result);
  });
}

// Applies `map(cp) -> optional replacement text` to each character of the valid runs.
template <typename Map>
void map_chars(std::string_view in, std::string& out, Map map) {
  for_valid_runs(in, out, [&map](std::string_view run, std::string& o) {
    for (size_t i = 0; i < run.size();) {
      size_t n = utf8_valid_char_length(run, i);
      map(utf8_decode_at(run, i), run.substr(i, n), o);
      i += n;
    }
  });
}

bool is_whitespace(char32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ZS;
}

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

Status Normalizer::add_replace(std::string_view pattern, std::string content, bool literal) {
  TESSERA_ASSIGN_OR_RETURN(Regex re, Regex::compile(pattern, literal));
  steps_.push_back({Kind::kReplace, std::move(content), std::move(re), true, true});
  return Status();
}

void Normalizer::apply(std::string_view text, std::string& out) const {
  std::string a(text), b;
  std::vector<Span> matches;
  for (const Step& s : steps_) {
    b.clear();
    switch (s.kind) {
      case Kind::kNfc:
        normal_form(a, b, UTF8PROC_COMPOSE);
        break;
      case Kind::kNfd:
        normal_form(a, b, UTF8PROC_DECOMPOSE);
        break;
      case Kind::kNfkc:
        normal_form(a, b, UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
        break;
      case Kind::kNfkd:
        normal_form(a, b, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
        break;
      case Kind::kLowercase:
        if (is_ascii(a)) {
          b = a;
          for (char& c : b)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        } else {
          map_chars(a, b, [](char32_t c, std::string_view, std::string& o) {
            utf8_append(o, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
          });
        }
        break;
      case Kind::kStripAccents:
        map_chars(a, b, [](char32_t c, std::string_view raw, std::string& o) {
          if (utf8proc_category(static_cast<utf8proc_int32_t>(c)) != UTF8PROC_CATEGORY_MN) o.append(raw);
        });
        break;
      case Kind::kStrip: {
        size_t lo = 0, hi = a.size();
        if (s.left)
          while (lo < hi && (a[lo] == ' ' || a[lo] == '\t' || a[lo] == '\n' || a[lo] == '\r')) ++lo;
        if (s.right)
          while (hi > lo && (a[hi - 1] == ' ' || a[hi - 1] == '\t' || a[hi - 1] == '\n' || a[hi - 1] == '\r')) --hi;
        b = a.substr(lo, hi - lo);
        break;
      }
      case Kind::kReplace: {
        matches.clear();
        s.pattern->find_all(a, matches);
        size_t pos = 0;
        for (const Span& m : matches) {
          b.append(a, pos, m.begin - pos);
          b += s.content;
          pos = m.end;
        }
        b.append(a, pos, std::string::npos);
        break;
      }
      case Kind::kPrepend:
        if (!a.empty()) b = s.content;
        b += a;
        break;
      case Kind::kBertClean:
        map_chars(a, b, [](char32_t c, std::string_view raw, std::string& o) {
          if (c == 0 || c == 0xFFFD) return;
          if (is_whitespace(c)) {
            o += ' ';
            return;
          }
          auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
          if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF) return;
          o.append(raw);
        });
        break;
      case Kind::kBertChinese:
        map_chars(a, b, [](char32_t c, std::string_view raw, std::string& o) {
          if (is_cjk(c)) {
            o += ' ';
            o.append(raw);
            o += ' ';
          } else {
            o.append(raw);
          }
        });
        break;
    }
    a.swap(b);
  }
  out = std::move(a);
}

}  // namespace tessera::tokenizer
