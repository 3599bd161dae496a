// Tokenizer behaviour on hand-built vocabularies (no assets needed), plus invalid UTF-8 and threads on the
// real files when present.
#include "tessera/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "../test_util.h"
#include "tessera/tokenizer/pre_tokenizer.h"
#include "tessera/tokenizer/utf8.h"
#include "tiny_tokenizers.h"

namespace tessera::tokenizer {
namespace {

TEST(TokenizerTest, ByteLevelMergesByRank) {
  auto tok = testing::tiny_byte_level();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("hello"), (std::vector<int32_t>{259}));
  EXPECT_EQ(tok->encode("hello wx"), (std::vector<int32_t>{259, 260, 'x'}));
  EXPECT_EQ(tok->decode({259, 260, 'x'}), "hello wx");
  EXPECT_EQ(tok->token_to_piece(260), " w");
  EXPECT_EQ(tok->token_text(260), "\xC4\xA0w");
}

TEST(TokenizerTest, SpecialTokensOnlyWhenParsed) {
  auto tok = testing::tiny_byte_level();
  auto plain = tok->encode("a<|end|>");
  EXPECT_EQ(plain.size(), 8u);  // "a" and the 7 bytes of "<|end|>" as text
  EXPECT_EQ(tok->encode("a<|end|>", false, true), (std::vector<int32_t>{'a', 261}));
  // Non-special added tokens are matched either way.
  EXPECT_EQ(tok->encode("a<tool>b"), (std::vector<int32_t>{'a', 262, 'b'}));
  EXPECT_EQ(tok->decode({'a', 261, 'b'}), "a<|end|>b");
  EXPECT_EQ(tok->decode({'a', 261, 'b'}, /*skip_special=*/true), "ab");
  EXPECT_TRUE(tok->is_special(261));
  EXPECT_FALSE(tok->is_special(262));
  EXPECT_EQ(tok->end_of_generation_ids(), (std::vector<int32_t>{261}));
}

TEST(TokenizerTest, SentencePieceDummyPrefixAndBos) {
  auto tok = testing::tiny_sentencepiece();
  ASSERT_TRUE(tok);
  auto hello = *tok->token_id("\xE2\x96\x81Hello");
  auto world = *tok->token_id("\xE2\x96\x81world");
  EXPECT_EQ(tok->encode("Hello world"), (std::vector<int32_t>{hello, world}));
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int32_t>{1, hello, world}));
  EXPECT_TRUE(tok->encode("").empty());
  EXPECT_EQ(tok->encode("", true), (std::vector<int32_t>{1}));
  // After a parsed special token the next text gets the dummy prefix again, as Hugging Face's legacy mode does.
  EXPECT_EQ(tok->encode("<s>Hello", false, true), (std::vector<int32_t>{1, hello}));
  EXPECT_EQ(tok->decode({1, hello, world}, true), "Hello world");
}

// Invalid UTF-8 never fails: byte-level models encode each byte through the byte alphabet and SentencePiece
// models through byte-fallback pieces, so decoding gives the same bytes back.
TEST(TokenizerTest, InvalidUtf8RoundTrips) {
  const std::string bad[] = {"\xFF",
                             "a\xC3",
                             "\xE4\xBD",
                             "\xC0\xAF x",
                             "\xED\xA0\x80",
                             "ok\x80\x80\xF4\x90\x80\x80",
                             std::string("nul\0byte", 8)};
  for (auto tok : {testing::tiny_byte_level(), testing::tiny_sentencepiece()}) {
    ASSERT_TRUE(tok);
    for (const std::string& s : bad) EXPECT_EQ(tok->decode(tok->encode(s)), s);
  }
}

TEST(TokenizerTest, InvalidUtf8OnRealVocabularies) {
  std::mt19937 rng(3);
  for (const char* name : {"qwen3", "mistral-7b-v0.1"}) {
    const std::string dir = tessera::testing::assets_dir() + "/tokenizers/" + name;
    TESSERA_REQUIRE_FILE(dir + "/tokenizer.json");
    auto tok = Tokenizer::load(dir);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    for (int i = 0; i < 200; ++i) {
      std::string s(rng() % 40, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      auto ids = (*tok)->encode(s, true, true);
      for (int32_t id : ids) ASSERT_LT(static_cast<size_t>(id), (*tok)->vocab_size());
    }
    // Qwen3 normalizes (NFC) the valid runs, so the exact round trip is checked on text that NFC keeps.
    std::string raw = "caf\xC3\xA9 \xFF\xFE ok";
    EXPECT_EQ((*tok)->decode((*tok)->encode(raw)), raw) << name;
  }
}

TEST(TokenizerTest, EncodeFromManyThreads) {
  const std::string dir = tessera::testing::assets_dir() + "/tokenizers/llama3_1";
  TESSERA_REQUIRE_FILE(dir + "/tokenizer.json");
  auto tok = Tokenizer::load(dir);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i)
    texts.push_back("line " + std::to_string(i * 7919) + ": Hello, 世界! 😀 f(x) = x**" + std::to_string(i));
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back((*tok)->encode(t));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < texts.size(); ++i) mismatches[th] += (*tok)->encode(texts[i]) != want[i];
    });
  }
  for (auto& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(TokenizerTest, LoadErrors) {
  EXPECT_EQ(Tokenizer::load("/nonexistent/tokenizer.json").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(pre_tokenizer_for_family("no-such-family").ok());
  TokenizerData empty;
  EXPECT_FALSE(Tokenizer::create(std::move(empty)).ok());
}

TEST(PreTokenizerTest, SplitBehaviors) {
  auto run = [](const PreTokenizer& pre, std::string_view text, bool first = true) {
    std::string buf;
    std::vector<Span> pieces, scratch;
    pre.run(text, first, buf, pieces, scratch);
    std::vector<std::string> out;
    for (const Span& p : pieces) out.push_back(buf.substr(p.begin, p.end - p.begin));
    return out;
  };
  PreTokenizer isolated;
  ASSERT_TRUE(isolated.add_regex(R"(\d+)", SplitBehavior::kIsolated).ok());
  EXPECT_EQ(run(isolated, "ab12cd3"), (std::vector<std::string>{"ab", "12", "cd", "3"}));
  PreTokenizer removed;
  ASSERT_TRUE(removed.add_regex(R"(\s+)", SplitBehavior::kRemoved).ok());
  EXPECT_EQ(run(removed, " a  b "), (std::vector<std::string>{"a", "b"}));
  PreTokenizer prev;
  ASSERT_TRUE(prev.add_regex("-", SplitBehavior::kMergedWithPrevious, false, true).ok());
  EXPECT_EQ(run(prev, "a-b--c"), (std::vector<std::string>{"a-", "b-", "-", "c"}));
  PreTokenizer meta;
  ASSERT_TRUE(meta.set_metaspace("\xE2\x96\x81", PrependScheme::kFirst, true).ok());
  EXPECT_EQ(run(meta, "hi there"), (std::vector<std::string>{"\xE2\x96\x81hi", "\xE2\x96\x81there"}));
  EXPECT_EQ(run(meta, "hi", false), (std::vector<std::string>{"hi"}));
}

TEST(Utf8Test, IncompleteTailAndSanitize) {
  EXPECT_EQ(utf8_incomplete_tail("ab\xE4\xBD"), 2u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xE4\xBD\xA0"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_tail("\xED\xA0"), 0u);  // a surrogate can never complete
  EXPECT_EQ(utf8_incomplete_tail("\x80"), 0u);
  EXPECT_EQ(utf8_sanitize("a\xE4\xBD"
                          "b\xFF"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_TRUE(utf8_is_valid("h\xC3\xA9llo \xF0\x9F\x98\x80"));
  EXPECT_FALSE(utf8_is_valid("\xC0\x80"));
}

}  // namespace
}  // namespace tessera::tokenizer
