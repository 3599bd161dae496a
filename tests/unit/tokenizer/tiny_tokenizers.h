// Small hand-built tokenizers for unit tests that need no asset files.
#pragma once

#include <memory>

#include "tessera/tokenizer/byte_level.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer::testing {

// Byte-level BPE: ids 0-255 are the bytes, 256 = "he", 257 = "hel", 258 = "hell", 259 = "hello",
// 260 = " w" (written "Ġw"), 261 = "<|end|>" (control), 262 = "<tool>" (added, not special).
inline std::shared_ptr<const Tokenizer> tiny_byte_level() {
  TokenizerData d;
  d.model = ModelKind::kByteLevelBpe;
  for (int b = 0; b < 256; ++b) d.pieces.push_back(byte_level_encode(std::string(1, static_cast<char>(b))));
  for (const char* p : {"he", "hel", "hell", "hello", "\xC4\xA0w"}) d.pieces.push_back(p);
  d.merges = {{"h", "e"}, {"he", "l"}, {"hel", "l"}, {"hell", "o"}, {"\xC4\xA0", "w"}};
  d.pieces.push_back("<|end|>");
  d.pieces.push_back("<tool>");
  d.kinds.assign(d.pieces.size(), TokenKind::kNormal);
  d.kinds[261] = TokenKind::kControl;
  d.kinds[262] = TokenKind::kUserDefined;
  d.added.push_back({261, "<|end|>", true});
  d.added.push_back({262, "<tool>", false});
  d.eos_id = 261;
  (void)d.pre_tokenizer.add_regex(kGpt2Pattern, SplitBehavior::kIsolated);
  auto t = Tokenizer::create(std::move(d));
  return t.ok() ? *t : nullptr;
}

// SentencePiece-style BPE with byte fallback and a dummy prefix: 0 <unk>, 1 <s>, 2 </s>, 3-258 <0x00>..<0xFF>,
// then pieces ranked by score.
inline std::shared_ptr<const Tokenizer> tiny_sentencepiece() {
  TokenizerData d;
  d.model = ModelKind::kSentencePieceBpe;
  d.pieces = {"<unk>", "<s>", "</s>"};
  d.kinds = {TokenKind::kUnknown, TokenKind::kControl, TokenKind::kControl};
  d.scores = {0, 0, 0};
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    d.pieces.push_back(buf);
    d.kinds.push_back(TokenKind::kByte);
    d.scores.push_back(0);
  }
  const std::pair<const char*, float> pieces[] = {{"\xE2\x96\x81", -1},
                                                  {"H", -2},
                                                  {"e", -2},
                                                  {"l", -2},
                                                  {"o", -2},
                                                  {"w", -2},
                                                  {"r", -2},
                                                  {"d", -2},
                                                  {"He", -3},
                                                  {"ll", -3},
                                                  {"Hell", -4},
                                                  {"Hello", -5},
                                                  {"\xE2\x96\x81Hello", -6},
                                                  {"\xE2\x96\x81w", -7},
                                                  {"or", -8},
                                                  {"\xE2\x96\x81wor", -9},
                                                  {"ld", -10},
                                                  {"\xE2\x96\x81world", -11}};
  for (auto [p, s] : pieces) {
    d.pieces.push_back(p);
    d.kinds.push_back(TokenKind::kNormal);
    d.scores.push_back(s);
  }
  d.byte_fallback = true;
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  d.prefix_ids = {1};
  d.added.push_back({0, "<unk>", true});
  d.added.push_back({1, "<s>", true});
  d.added.push_back({2, "</s>", true});
  d.normalizer.add_prepend("\xE2\x96\x81");
  (void)d.normalizer.add_replace(" ", "\xE2\x96\x81", true);
  d.decode_strip_leading_space = true;
  auto t = Tokenizer::create(std::move(d));
  return t.ok() ? *t : nullptr;
}

}  // namespace tessera::tokenizer::testing
