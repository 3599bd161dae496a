#include "tessera/tokenizer/chat/lexer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/py_text.h"

namespace tessera::tokenizer::chat {
namespace {

[[noreturn]] void syntax_error(int line, const std::string& message) {
  TemplateError e(ErrorKind::kSyntax, message);
  e.set_line_if_unset(line);
  throw e;
}

// Jinja2 matches `\s` on Python str, so whitespace is Unicode whitespace, decoded from UTF-8.
bool space_at(std::string_view s, size_t pos, size_t* len) {
  size_t p = pos;
  const char32_t cp = next_code_point(s, &p);
  *len = p - pos;
  return py_isspace(cp);
}

size_t skip_space(std::string_view s, size_t pos) {
  size_t len = 0;
  while (pos < s.size() && space_at(s, pos, &len)) pos += len;
  return pos;
}

std::string rstrip_space(std::string_view s) {
  // Walk forward so multi-byte whitespace is found, remembering where the trailing run began.
  size_t end = 0, len = 0;
  for (size_t pos = 0; pos < s.size();) {
    if (space_at(s, pos, &len)) {
      pos += len;
    } else {
      pos += len;
      end = pos;
    }
  }
  return std::string(s.substr(0, end));
}

bool all_space(std::string_view s) {
  size_t len = 0;
  for (size_t pos = 0; pos < s.size(); pos += len)
    if (!space_at(s, pos, &len)) return false;
  return !s.empty();
}

bool is_name_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool is_name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's "unicode-escape" decoding of a string literal's body.
std::string unescape(std::string_view s, int line) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case '\n':
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
          const int h = i + 1 + k < s.size() ? hex_value(s[i + 1 + k]) : -1;
          if (h < 0) syntax_error(line, std::string("truncated \\") + c + " escape");
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10FFFF) syntax_error(line, "illegal Unicode character");
        i += n;
        append_utf8(&out, cp);
        break;
      }
      case 'N':
        syntax_error(line, "malformed \\N character escape");  // named escapes are not supported
      default:
        if (c >= '0' && c <= '7') {
          uint32_t cp = static_cast<uint32_t>(c - '0');
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
            cp = cp * 8 + static_cast<uint32_t>(s[++i] - '0');
          append_utf8(&out, cp);
        } else {
          out += '\\';  // unknown escapes stay as written, as in Python
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options) : src_(std::move(source)), options_(options) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t start = find_tag_start(pos_);
      if (start == std::string::npos) {
        emit_text(src_.substr(pos_));
        advance_to(src_.size());
        line_starting_ = !src_.empty() && src_.back() == '\n';
        break;
      }
      const char kind = src_[start + 1];
      char sign = start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
      std::string text = src_.substr(pos_, start - pos_);
      size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_begin(start, &raw_end);
      if (raw) sign = src_[start + 2] == '-' || src_[start + 2] == '+' ? src_[start + 2] : 0;
      emit_text(strip_before_tag(std::move(text), kind, sign));
      advance_to(start + 2 + (sign ? 1 : 0));
      line_starting_ = false;
      if (raw) {
        advance_to(raw_end);
        lex_raw_body();
      } else if (kind == '#') {
        lex_comment();
      } else {
        lex_tag(kind == '%');
      }
    }
    tokens_.push_back(Token{TokenType::kEof, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag_start(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
    }
    return std::string::npos;
  }

  std::string strip_before_tag(std::string text, char kind, char sign) const {
    if (sign == '-') return rstrip_space(text);
    if (sign != '+' && options_.lstrip_blocks && kind != '{') {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_space(std::string_view(text).substr(l_pos))) text.resize(l_pos);
    }
    return text;
  }

  // `{% raw %}` with optional signs; on a match *end is just past the tag (and the whitespace `-%}` eats).
  bool match_raw_begin(size_t start, size_t* end) const {
    size_t p = start + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = skip_space(src_, p);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p = skip_space(src_, p + 3);
    if (src_.compare(p, 3, "-%}") == 0) {
      *end = skip_space(src_, p + 3);
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      *end = p + 2;
      return true;
    }
    return false;
  }

  void lex_raw_body() {
    for (size_t p = src_.find("{%", pos_); p != std::string::npos; p = src_.find("{%", p + 1)) {
      size_t q = p + 2;
      const char sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : 0;
      if (sign) ++q;
      q = skip_space(src_, q);
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q = skip_space(src_, q + 6);
      size_t end;
      if (!match_block_end(q, &end)) continue;
      emit_text(strip_before_tag(src_.substr(pos_, p - pos_), '%', sign));
      advance_to(end);
      line_starting_ = src_[end - 1] == '\n';
      return;
    }
    syntax_error(line_, "Missing end of raw directive");
  }

  // `+%}`, `-%}` plus the whitespace after it, or `%}` plus one newline (trim_blocks).
  bool match_block_end(size_t p, size_t* end) const {
    if (src_.compare(p, 3, "+%}") == 0) {
      *end = p + 3;
    } else if (src_.compare(p, 3, "-%}") == 0) {
      *end = skip_space(src_, p + 3);
    } else if (src_.compare(p, 2, "%}") == 0) {
      *end = p + 2;
      if (options_.trim_blocks && *end < src_.size() && src_[*end] == '\n') ++*end;
    } else {
      return false;
    }
    return true;
  }

  void lex_comment() {
    const size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) syntax_error(line_, "Missing end of comment tag");
    size_t end = close + 2;
    if (close > pos_ && src_[close - 1] == '-') {
      end = skip_space(src_, end);
    } else if (!(close > pos_ && src_[close - 1] == '+') && options_.trim_blocks && end < src_.size() &&
               src_[end] == '\n') {
      ++end;
    }
    advance_to(end);
    line_starting_ = src_[end - 1] == '\n';
  }

  void lex_tag(bool block) {
    tokens_.push_back(Token{block ? TokenType::kBlockBegin : TokenType::kVarBegin, "", line_});
    std::vector<char> balance;
    for (;;) {
      advance_to(skip_space(src_, pos_));
      if (pos_ >= src_.size())
        syntax_error(line_,
                     block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
      if (balance.empty()) {
        size_t end;
        if (block && match_block_end(pos_, &end)) {
          tokens_.push_back(Token{TokenType::kBlockEnd, "", line_});
          advance_to(end);
          line_starting_ = src_[end - 1] == '\n';
          return;
        }
        if (!block && (src_.compare(pos_, 3, "-}}") == 0 || src_.compare(pos_, 2, "}}") == 0)) {
          tokens_.push_back(Token{TokenType::kVarEnd, "", line_});
          advance_to(src_[pos_] == '-' ? skip_space(src_, pos_ + 3) : pos_ + 2);
          line_starting_ = src_[pos_ - 1] == '\n';
          return;
        }
      }
      lex_expression_token(&balance);
    }
  }

  void lex_expression_token(std::vector<char>* balance) {
    const unsigned char c = static_cast<unsigned char>(src_[pos_]);
    if (std::isdigit(c)) return lex_number();
    if (is_name_start(c)) {
      size_t e = pos_;
      while (e < src_.size() && is_name_char(static_cast<unsigned char>(src_[e]))) ++e;
      tokens_.push_back(Token{TokenType::kName, src_.substr(pos_, e - pos_), line_});
      advance_to(e);
      return;
    }
    if (c == '\'' || c == '"') return lex_string();
    static constexpr const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back(Token{TokenType::kOp, op, line_});
        advance_to(pos_ + 2);
        return;
      }
    }
    static constexpr std::string_view kOne = "+-/*%~[](){}><=.:|,;";
    if (kOne.find(static_cast<char>(c)) == std::string_view::npos)
      syntax_error(line_, std::string("unexpected char '") + static_cast<char>(c) + "'");
    if (c == '(' || c == '[' || c == '{') {
      if (balance->size() > 1024) syntax_error(line_, "brackets nested too deeply");
      balance->push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance->empty()) syntax_error(line_, std::string("unexpected '") + static_cast<char>(c) + "'");
      if (balance->back() != static_cast<char>(c))
        syntax_error(line_,
                     std::string("unexpected '") + static_cast<char>(c) + "', expected '" + balance->back() + "'");
      balance->pop_back();
    }
    tokens_.push_back(Token{TokenType::kOp, std::string(1, static_cast<char>(c)), line_});
    advance_to(pos_ + 1);
  }

  size_t digits_end(size_t p, bool hex = false) const {
    // digits with single '_' separators between them
    while (p < src_.size()) {
      const unsigned char d = static_cast<unsigned char>(src_[p]);
      if (hex ? std::isxdigit(d) : std::isdigit(d)) {
        ++p;
      } else if (d == '_' && p + 1 < src_.size() &&
                 (hex ? std::isxdigit(static_cast<unsigned char>(src_[p + 1]))
                      : std::isdigit(static_cast<unsigned char>(src_[p + 1])))) {
        ++p;
      } else {
        break;
      }
    }
    return p;
  }

  void lex_number() {
    const size_t start = pos_;
    const bool after_dot = start > 0 && src_[start - 1] == '.';
    size_t e = digits_end(start);
    size_t float_end = 0;
    if (!after_dot) {
      size_t f = e;
      if (f + 1 < src_.size() && src_[f] == '.' && std::isdigit(static_cast<unsigned char>(src_[f + 1])))
        f = digits_end(f + 1);
      if (f < src_.size() && (src_[f] == 'e' || src_[f] == 'E')) {
        size_t g = f + 1;
        if (g < src_.size() && (src_[g] == '+' || src_[g] == '-')) ++g;
        if (g < src_.size() && std::isdigit(static_cast<unsigned char>(src_[g]))) float_end = digits_end(g);
      }
      if (!float_end && f > e) float_end = f;
    }
    auto clean = [](std::string s) {
      s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
      return s;
    };
    if (float_end) {
      Token t{TokenType::kFloat, src_.substr(start, float_end - start), line_};
      t.float_value = std::strtod(clean(t.value).c_str(), nullptr);
      tokens_.push_back(std::move(t));
      advance_to(float_end);
      return;
    }
    int base = 10;
    if (src_[start] == '0' && e == start + 1 && start + 2 < src_.size()) {
      const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[start + 1])));
      if (p == 'x' || p == 'o' || p == 'b') {
        base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
        e = digits_end(start + 2, base == 16);
      }
    }
    Token t{TokenType::kInt, src_.substr(start, e - start), line_};
    std::string digits = clean(base == 10 ? t.value : t.value.substr(2));
    errno = 0;
    t.int_value = static_cast<int64_t>(std::strtoll(digits.c_str(), nullptr, base));
    if (errno == ERANGE) syntax_error(line_, "integer literal too large");
    tokens_.push_back(std::move(t));
    advance_to(e);
  }

  void lex_string() {
    const char quote = src_[pos_];
    size_t p = pos_ + 1;
    while (p < src_.size() && src_[p] != quote) p += src_[p] == '\\' ? 2 : 1;
    if (p >= src_.size()) syntax_error(line_, "unexpected end of string");
    Token t{TokenType::kString, unescape(std::string_view(src_).substr(pos_ + 1, p - pos_ - 1), line_), line_};
    tokens_.push_back(std::move(t));
    advance_to(p + 1);
  }

  void emit_text(std::string text) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::kText, std::move(text), line_});
  }

  void advance_to(size_t p) {
    for (size_t i = pos_; i < p && i < src_.size(); ++i) line_ += src_[i] == '\n';
    pos_ = p;
  }

  std::string src_;
  LexerOptions options_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  // keep_trailing_newline=False: one final newline is not part of the template.
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options) {
  return Lexer(normalize_newlines(source), options).run();
}

}  // namespace tessera::tokenizer::chat
