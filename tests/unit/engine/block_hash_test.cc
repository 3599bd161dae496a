#include "tessera/engine/block_hash.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>
#include <vector>

namespace tessera::engine {
namespace {

const std::vector<TokenId> kTokens{1, 2, 3, 4};

BlockExtraKeys base_keys() { return BlockExtraKeys{"model-a", "", {}, ""}; }

// The encoding spelled out by hand, independent of block_hash.cc: if this test breaks, every stored key and every
// other node's keys change with it, so the version tag must change too.
TEST(BlockHash, MatchesTheCanonicalEncoding) {
  std::string b;
  auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto str = [&](std::string_view s) {
    u64(s.size());
    b.append(s);
  };
  str("tessera.kv-block.v1");
  b.push_back(1);  // has parent
  u64(0x1111);
  u64(0x2222);
  u64(2);  // two tokens, u32 little-endian each
  b.append(std::string("\x05\x00\x00\x00\xff\xff\xff\xff", 8));
  str("fp");
  str("lora");
  u64(1);
  str("img");
  b.push_back(0);  // not the first block: no salt
  const XXH128_hash_t want = XXH3_128bits_withSeed(b.data(), b.size(), 0x7465737365726131ull);

  const BlockHash parent{0x1111, 0x2222};
  const std::vector<TokenId> tokens{5, -1};
  const std::vector<std::string> media{"img"};
  const BlockHash got = hash_block(&parent, tokens, BlockExtraKeys{"fp", "lora", media, "ignored-salt"});
  EXPECT_EQ(got.lo, want.low64);
  EXPECT_EQ(got.hi, want.high64);
}

TEST(BlockHash, FixedValueForAFixedInput) {
  const BlockHash h = hash_block(nullptr, kTokens, base_keys());
  EXPECT_EQ(h.lo, 0xf508adf398bcb6e2ull) << std::hex << h.lo;
  EXPECT_EQ(h.hi, 0x04a9ffb723b42dafull) << std::hex << h.hi;
}

TEST(BlockHash, DependsOnParentAndTokens) {
  const BlockHash a = hash_block(nullptr, kTokens, base_keys());
  EXPECT_EQ(a, hash_block(nullptr, kTokens, base_keys()));
  EXPECT_NE(a, hash_block(nullptr, std::vector<TokenId>{1, 2, 4, 3}, base_keys()));
  EXPECT_NE(a, hash_block(&a, kTokens, base_keys()));
  const BlockHash other_parent{a.lo + 1, a.hi};
  EXPECT_NE(hash_block(&a, kTokens, base_keys()), hash_block(&other_parent, kTokens, base_keys()));
}

TEST(BlockHash, SaltKeysTheFirstBlockOnly) {
  BlockExtraKeys salted = base_keys();
  salted.cache_salt = "tenant-1";
  const BlockHash first_plain = hash_block(nullptr, kTokens, base_keys());
  const BlockHash first_salted = hash_block(nullptr, kTokens, salted);
  EXPECT_NE(first_plain, first_salted);
  // Given the same parent, a later block ignores the salt...
  EXPECT_EQ(hash_block(&first_plain, kTokens, base_keys()), hash_block(&first_plain, kTokens, salted));
  // ...but the salt still separates whole chains through the first key.
  EXPECT_NE(hash_block(&first_plain, kTokens, base_keys()), hash_block(&first_salted, kTokens, salted));
  // An empty salt on the first block is not the same bytes as "no salt field".
  EXPECT_NE(encode_extra_keys(base_keys(), true), encode_extra_keys(base_keys(), false));
}

TEST(BlockHash, ExtraKeysChangeTheHash) {
  const BlockHash plain = hash_block(nullptr, kTokens, base_keys());
  BlockExtraKeys k = base_keys();
  k.model_fingerprint = "model-b";
  EXPECT_NE(plain, hash_block(nullptr, kTokens, k));
  k = base_keys();
  k.adapter_id = "lora-1";
  EXPECT_NE(plain, hash_block(nullptr, kTokens, k));
  const std::vector<std::string> m1{"ab", "c"};
  const std::vector<std::string> m2{"a", "bc"};  // same concatenation: length prefixes must tell them apart
  k = base_keys();
  k.media_hashes = m1;
  const BlockHash h1 = hash_block(nullptr, kTokens, k);
  k.media_hashes = m2;
  const BlockHash h2 = hash_block(nullptr, kTokens, k);
  EXPECT_NE(plain, h1);
  EXPECT_NE(h1, h2);
  // Field boundaries: ("ab", "") and ("a", "b") for fingerprint and adapter differ.
  EXPECT_NE(hash_block(nullptr, kTokens, BlockExtraKeys{"ab", "", {}, ""}),
            hash_block(nullptr, kTokens, BlockExtraKeys{"a", "b", {}, ""}));
}

}  // namespace
}  // namespace tessera::engine
