// Builds the statement tree from tokens with Jinja2's grammar and operator precedence (the loopcontrols
// extension and transformers' `generation` block included).
#pragma once

#include <vector>

#include "tessera/tokenizer/chat/ast.h"
#include "tessera/tokenizer/chat/lexer.h"

namespace tessera::tokenizer::chat {

// Throws TemplateError(kSyntax) for malformed templates, unknown tags, and filters or tests that do not exist
// (outside `if` blocks, where Jinja2 defers that check to run time). Nesting deeper than kMaxParseDepth is refused
// so that hostile input cannot exhaust the stack.
StmtList parse_template(std::vector<Token> tokens);

inline constexpr int kMaxParseDepth = 96;

}  // namespace tessera::tokenizer::chat
