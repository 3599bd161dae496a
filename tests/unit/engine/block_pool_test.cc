#include "tessera/engine/block_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace tessera::engine {
namespace {

CachedBlockKey key_for(uint64_t n) {
  return CachedBlockKey{BlockHash{n, ~n}, BlockRef{}, {static_cast<TokenId>(n)}, ""};
}

TEST(BlockPool, NullBlockIsNeverHandedOut) {
  BlockPool pool(4);
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_DOUBLE_EQ(pool.usage(), 0.0);
  auto ids = pool.allocate(3);
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(*ids, (std::vector<BlockId>{1, 2, 3}));
  EXPECT_EQ(pool.num_free_blocks(), 0);
  EXPECT_DOUBLE_EQ(pool.usage(), 1.0);
  pool.free(*ids);
  EXPECT_EQ(pool.num_free_blocks(), 3);
  auto again = pool.allocate(3);
  ASSERT_TRUE(again.has_value());
  for (BlockId id : *again) EXPECT_NE(id, kNullBlockId);
}

TEST(BlockPool, AllocateFailsWithoutChangingAnything) {
  BlockPool pool(4);
  auto a = pool.allocate(2);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(pool.allocate(2).has_value());
  EXPECT_EQ(pool.num_free_blocks(), 1);
  auto b = pool.allocate(1);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, (std::vector<BlockId>{3}));
  EXPECT_TRUE(pool.allocate(0).has_value());
}

TEST(BlockPool, RefCountsShareAndRelease) {
  BlockPool pool(3);
  const BlockId id = (*pool.allocate(1))[0];
  EXPECT_EQ(pool.ref_count(id), 1);
  ASSERT_TRUE(pool.cache_block(id, key_for(7)));
  std::vector<BlockId> one{id};
  pool.touch(one);
  EXPECT_EQ(pool.ref_count(id), 2);
  pool.free(one);
  EXPECT_EQ(pool.ref_count(id), 1);
  EXPECT_EQ(pool.num_free_blocks(), 1);  // still owned once
  pool.free(one);
  EXPECT_EQ(pool.ref_count(id), 0);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  // Cached and unowned: a prefix hit takes it back off the free list.
  pool.touch(one);
  EXPECT_EQ(pool.ref_count(id), 1);
  EXPECT_EQ(pool.num_free_blocks(), 1);
  auto other = pool.allocate(1);
  ASSERT_TRUE(other.has_value());
  EXPECT_NE((*other)[0], id);
  EXPECT_FALSE(pool.allocate(1).has_value());
}

TEST(BlockPool, CachedFreeBlocksAreEvictedLeastRecentlyFreedFirst) {
  BlockPool pool(5);
  auto ids = *pool.allocate(4);
  for (BlockId id : ids) ASSERT_TRUE(pool.cache_block(id, key_for(static_cast<uint64_t>(id))));
  const std::vector<BlockId> order{3, 1, 4, 2};
  for (BlockId id : order) pool.free(std::vector<BlockId>{id});
  EXPECT_EQ(pool.num_cached_blocks(), 4);
  for (BlockId expected : order) {
    auto got = pool.allocate(1);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ((*got)[0], expected);
    // Eviction drops the key: the block's old contents are gone.
    EXPECT_FALSE(pool.find_cached(key_for(static_cast<uint64_t>(expected)).hash).has_value());
    EXPECT_EQ(pool.cached_key(expected), nullptr);
  }
  EXPECT_EQ(pool.num_cached_blocks(), 0);
}

TEST(BlockPool, UncachedFreeBlocksAreReusedBeforeCachedOnes) {
  BlockPool pool(4);
  auto ids = *pool.allocate(3);
  ASSERT_TRUE(pool.cache_block(ids[0], key_for(1)));
  pool.free(std::vector<BlockId>{ids[0]});  // cached: tail
  pool.free(std::vector<BlockId>{ids[1]});  // plain: head
  EXPECT_EQ((*pool.allocate(1))[0], ids[1]);
  EXPECT_EQ((*pool.allocate(1))[0], ids[0]);
}

TEST(BlockPool, TouchingAFreeCachedBlockInTheMiddleKeepsTheOrder) {
  BlockPool pool(5);
  auto ids = *pool.allocate(4);
  for (BlockId id : ids) ASSERT_TRUE(pool.cache_block(id, key_for(static_cast<uint64_t>(id))));
  pool.free(ids);  // LRU order 1 2 3 4
  pool.touch(std::vector<BlockId>{2});
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_EQ(*pool.allocate(3), (std::vector<BlockId>{1, 3, 4}));
  EXPECT_TRUE(pool.find_cached(key_for(2).hash).has_value());  // owned, still cached
}

TEST(BlockPool, OneBlockPerHash) {
  BlockPool pool(4);
  auto ids = *pool.allocate(2);
  EXPECT_TRUE(pool.cache_block(ids[0], key_for(9)));
  EXPECT_FALSE(pool.cache_block(ids[1], key_for(9)));
  EXPECT_EQ(pool.cached_key(ids[1]), nullptr);
  EXPECT_EQ(*pool.find_cached(key_for(9).hash), ids[0]);
}

TEST(BlockPool, GenerationChangesOnEveryFreshAllocation) {
  BlockPool pool(2);
  const BlockRef first = pool.ref((*pool.allocate(1))[0]);
  pool.free(std::vector<BlockId>{first.block_id});
  const BlockRef second = pool.ref((*pool.allocate(1))[0]);
  EXPECT_EQ(first.block_id, second.block_id);
  EXPECT_NE(first, second);
}

}  // namespace
}  // namespace tessera::engine
