#include "tessera/tokenizer/stream_decoder.h"

#include <gtest/gtest.h>

#include <random>

#include "tessera/tokenizer/utf8.h"
#include "tiny_tokenizers.h"

namespace tessera::tokenizer {
namespace {

std::vector<std::string> push_all(StreamDecoder& dec, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(dec.push(id));
  return out;
}

TEST(StreamDecoderTest, HoldsACharacterSplitAcrossByteTokens) {
  auto tok = testing::tiny_byte_level();
  ASSERT_TRUE(tok);
  // "é😀" is 2 + 4 bytes, one token per byte here.
  auto ids = tok->encode("\xC3\xA9\xF0\x9F\x98\x80");
  ASSERT_EQ(ids.size(), 6u);
  StreamDecoder dec(*tok);
  auto out = push_all(dec, ids);
  EXPECT_EQ(out, (std::vector<std::string>{"", "\xC3\xA9", "", "", "", "\xF0\x9F\x98\x80"}));
  EXPECT_EQ(dec.num_held_bytes(), 0u);
  EXPECT_EQ(dec.finish(), "");
}

TEST(StreamDecoderTest, ByteFallbackPieces) {
  auto tok = testing::tiny_sentencepiece();
  ASSERT_TRUE(tok);
  auto ids = tok->encode("Hello \xE4\xBD\xA0");  // "你" is not in the vocabulary: three <0x..> pieces
  ASSERT_GE(ids.size(), 4u);
  EXPECT_TRUE(tok->is_byte_piece(ids.back()));
  StreamDecoder dec(*tok, {.skip_special = true, .at_sequence_start = true});
  std::string text;
  std::vector<std::string> out = push_all(dec, ids);
  EXPECT_EQ(out[out.size() - 3], "");
  EXPECT_EQ(out[out.size() - 2], "");
  EXPECT_EQ(out.back(), "\xE4\xBD\xA0");
  for (const auto& s : out) text += s;
  EXPECT_EQ(text + dec.finish(), "Hello \xE4\xBD\xA0");
}

TEST(StreamDecoderTest, SentencePieceLeadingSpace) {
  auto tok = testing::tiny_sentencepiece();
  ASSERT_TRUE(tok);
  auto ids = tok->encode("Hello world");  // "▁Hello", "▁world"
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(tok->decode(ids), "Hello world");
  StreamDecoder start(*tok, {.skip_special = true, .at_sequence_start = true});
  EXPECT_EQ(push_all(start, ids), (std::vector<std::string>{"Hello", " world"}));
  // After a prompt, the space of "▁Hello" is real.
  StreamDecoder cont(*tok);
  EXPECT_EQ(push_all(cont, ids), (std::vector<std::string>{" Hello", " world"}));
}

TEST(StreamDecoderTest, SpecialTokens) {
  auto tok = testing::tiny_byte_level();
  StreamDecoder skip(*tok);
  EXPECT_EQ(skip.push(261), "");
  StreamDecoder keep(*tok, {.skip_special = false, .at_sequence_start = false});
  EXPECT_EQ(keep.push(261), "<|end|>");
  EXPECT_EQ(keep.push(262), "<tool>");  // added but not special: always text
  EXPECT_EQ(keep.push(99999), "");      // out of range: nothing
}

TEST(StreamDecoderTest, InvalidBytesBecomeReplacementCharacters) {
  auto tok = testing::tiny_byte_level();
  StreamDecoder dec(*tok);
  EXPECT_EQ(dec.push(0xFF), "\xEF\xBF\xBD");  // can never start a character
  EXPECT_EQ(dec.push(0xE4), "");              // might, so it is held
  EXPECT_EQ(dec.push('A'),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(dec.push(0xF0), "");
  EXPECT_EQ(dec.push(0x9F), "");
  EXPECT_EQ(dec.finish(), "\xEF\xBF\xBD");  // the stream ended inside a character
}

// Streaming gives the same text as decoding everything at once, for any split of any bytes.
TEST(StreamDecoderTest, MatchesDecodeOnRandomTokens) {
  auto tok = testing::tiny_byte_level();
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::vector<int32_t> ids(rng() % 20);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % 263);
    StreamDecoder dec(*tok);
    std::string streamed;
    for (int32_t id : ids) {
      std::string s = dec.push(id);
      EXPECT_TRUE(utf8_is_valid(s));
      streamed += s;
    }
    streamed += dec.finish();
    EXPECT_EQ(streamed, utf8_sanitize(tok->decode(ids, /*skip_special=*/true)));
  }
}

}  // namespace
}  // namespace tessera::tokenizer
