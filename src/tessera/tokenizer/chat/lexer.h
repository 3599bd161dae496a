// Splits a template into text and tag tokens the way Jinja2's lexer does with trim_blocks=True and
// lstrip_blocks=True: newlines normalized to "\n", one trailing newline dropped, `-` strips all whitespace on its
// side, `+` keeps it, the first newline after `%}` and `#}` is dropped, and spaces before `{%` / `{#` on an
// otherwise blank line are removed (never before `{{`). Comments vanish; raw blocks become text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::tokenizer::chat {

enum class TokenType : uint8_t {
  kText,
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // value holds the unescaped string
  kInt,
  kFloat,
  kOp,  // value holds the operator: "+", "//", "==", "(", "|", ...
  kEof,
};

struct Token {
  TokenType type;
  std::string value;
  int line = 0;
  int64_t int_value = 0;
  double float_value = 0;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws TemplateError(kSyntax) on an unterminated tag, comment or string, or a character no token starts with.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options = {});

}  // namespace tessera::tokenizer::chat
