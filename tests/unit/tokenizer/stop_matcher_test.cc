#include "tessera/tokenizer/stop_matcher.h"

#include <gtest/gtest.h>

#include "tessera/tokenizer/stream_decoder.h"
#include "tiny_tokenizers.h"

namespace tessera::tokenizer {
namespace {

TEST(StopMatcherTest, StopSpanningThreeTokens) {
  StopMatcher m({"</answer>"});
  EXPECT_EQ(m.push("Paris<"), "Paris");
  EXPECT_EQ(m.push("/ans"), "");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("wer> and more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched_index(), 0);
  EXPECT_EQ(m.push("later text"), "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcherTest, StopAtTheVeryStart) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("STOP right there"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, PartialMatchThatIsNotAStop) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.push("a <"), "a ");
  EXPECT_EQ(m.num_held_bytes(), 1u);
  EXPECT_EQ(m.push("/"), "");
  EXPECT_EQ(m.push("t"), "</t");  // no longer a prefix: released
  EXPECT_EQ(m.push("> b <"), "> b ");
  EXPECT_EQ(m.finish(), "<");  // the stream ended; the held text is real text
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, EarliestStopWinsAndIndexIsReported) {
  StopMatcher m({"", "world", "lo w"});
  EXPECT_EQ(m.push("hello world"), "hel");
  EXPECT_EQ(m.matched_index(), 2);
}

TEST(StopMatcherTest, OverlappingPrefixes) {
  StopMatcher m({"aab"});
  EXPECT_EQ(m.push("a"), "");
  EXPECT_EQ(m.push("a"), "");
  EXPECT_EQ(m.push("a"), "a");  // "aaa": only the last two can still start "aab"
  EXPECT_EQ(m.push("b"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, NoStops) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_EQ(m.finish(), "");
}

// The two together, as a server uses them: a multi-byte stop string that arrives one byte per token.
TEST(StopMatcherTest, WithStreamDecoderAcrossUtf8Tokens) {
  auto tok = testing::tiny_byte_level();
  ASSERT_TRUE(tok);
  const std::string text = "ok \xE2\x9C\x85 done";  // "ok ✅ done"
  StreamDecoder dec(*tok);
  StopMatcher stop({"\xE2\x9C\x85"});
  std::string shown;
  for (int32_t id : tok->encode(text)) {
    shown += stop.push(dec.push(id));
    if (stop.stopped()) break;
  }
  EXPECT_TRUE(stop.stopped());
  EXPECT_EQ(shown, "ok ");
}

}  // namespace
}  // namespace tessera::tokenizer
