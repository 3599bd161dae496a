// The lexer's whitespace rules are where templates most often differ by one newline; these pin them down.
#include "tessera/tokenizer/chat/lexer.h"

#include <gtest/gtest.h>

#include "tessera/tokenizer/chat/error.h"

namespace tessera::tokenizer::chat {
namespace {

// The concatenated text tokens: what the template prints when its tags print nothing.
std::string text_of(std::string_view source) {
  std::string out;
  for (const Token& t : tokenize(source))
    if (t.type == TokenType::kText) out += t.value;
  return out;
}

TEST(Lexer, TrimBlocksDropsOneNewlineAfterBlockTags) {
  EXPECT_EQ(text_of("{% if x %}\nA\n{% endif %}\nB"), "A\nB");
  EXPECT_EQ(text_of("{% if x %}\n\nA"), "\nA");
  EXPECT_EQ(text_of("{{ x }}\nA"), "\nA");  // not after {{ }}
  EXPECT_EQ(text_of("{# c #}\nA"), "A");    // comments count as blocks
}

TEST(Lexer, LstripBlocksOnlyOnBlankLinePrefixes) {
  EXPECT_EQ(text_of("A\n    {% if x %}B"), "A\nB");
  EXPECT_EQ(text_of("A  {% if x %}B"), "A  B");           // text before the tag on its line: kept
  EXPECT_EQ(text_of("  {% if x %}B"), "B");               // the template's first line starts a line
  EXPECT_EQ(text_of("A\n    {{ x }}"), "A\n    ");        // never before {{
  EXPECT_EQ(text_of("A\n    {%+ if x %}B"), "A\n    B");  // + keeps it
}

TEST(Lexer, MinusStripsAllWhitespace) {
  EXPECT_EQ(text_of("A \n\t {%- if x -%} \n B"), "AB");
  EXPECT_EQ(text_of("A \n {{- x -}} \n B"), "AB");
  EXPECT_EQ(text_of("A \n {#- c -#} \n B"), "AB");
}

TEST(Lexer, NewlinesNormalizedAndOneTrailingNewlineDropped) {
  EXPECT_EQ(text_of("A\r\nB\rC\n"), "A\nB\nC");
  EXPECT_EQ(text_of("A\n\n"), "A\n");
}

TEST(Lexer, RawBlocksAreText) { EXPECT_EQ(text_of("{% raw %}{{ x }}{% endraw %}"), "{{ x }}"); }

TEST(Lexer, StringsUnescapeLikePython) {
  const auto tokens = tokenize(R"({{ "a\n\x41\u00e9\\'\q" }})");
  ASSERT_EQ(tokens[1].type, TokenType::kString);
  EXPECT_EQ(tokens[1].value, "a\nA\xc3\xa9\\'\\q");
}

TEST(Lexer, NumbersAndOperators) {
  const auto t = tokenize("{{ 1_000 + 2.5e3 // 0x10 ** x.y }}");
  EXPECT_EQ(t[1].int_value, 1000);
  EXPECT_EQ(t[2].value, "+");
  EXPECT_DOUBLE_EQ(t[3].float_value, 2500.0);
  EXPECT_EQ(t[4].value, "//");
  EXPECT_EQ(t[5].int_value, 16);
  EXPECT_EQ(t[6].value, "**");
}

TEST(Lexer, BracesInsideExpressionsDoNotEndTheTag) {
  const auto t = tokenize("{{ {'a': {'b': 1}} }}");
  EXPECT_EQ(t.back().type, TokenType::kEof);
  EXPECT_EQ(t[t.size() - 2].type, TokenType::kVarEnd);
}

TEST(Lexer, MalformedInputIsAnError) {
  for (const char* bad : {"{{ x", "{% if", "{# open", "{{ 'abc }}", "{{ ) }}", "{{ $ }}", "{% raw %}x"}) {
    EXPECT_THROW(tokenize(bad), TemplateError) << bad;
  }
}

}  // namespace
}  // namespace tessera::tokenizer::chat
