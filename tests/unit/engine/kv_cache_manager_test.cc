#include "tessera/engine/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace tessera::engine {
namespace {

constexpr int32_t kBlockSize = 4;

KVCacheConfig config(int32_t num_blocks) {
  return KVCacheConfig{num_blocks, kBlockSize, /*enable_prefix_caching=*/true, "model-a"};
}

std::vector<TokenId> iota_tokens(int n, TokenId start = 100) {
  std::vector<TokenId> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), start);
  return t;
}

Request make_request(RequestId id, std::vector<TokenId> tokens, std::string salt = "") {
  Request r;
  r.id = id;
  r.token_ids = std::move(tokens);
  r.cache_salt = std::move(salt);
  return r;
}

// Admits a request as a scheduler would: cached prefix, then the rest of the prompt in one step.
bool admit(KVCacheManager& kv, Request& r) {
  ComputedBlocks hit = kv.get_computed_blocks(r);
  const int64_t num_new = static_cast<int64_t>(r.token_ids.size()) - hit.num_computed_tokens;
  if (!kv.allocate_slots(r, num_new, hit)) return false;
  r.num_computed_tokens += num_new;
  return true;
}

TEST(KVCacheManager, HitsWholeBlocksAndNeverTheLastToken) {
  KVCacheManager kv(config(16));
  Request a = make_request(1, iota_tokens(8));
  ASSERT_TRUE(admit(kv, a));
  EXPECT_EQ(a.block_table.size(), 2u);
  kv.free(a);
  EXPECT_EQ(kv.pool().num_free_blocks(), 15);

  // The same 8 tokens: the second block would cover the last token, so only the first is a hit.
  Request b = make_request(2, iota_tokens(8));
  ComputedBlocks hit = kv.get_computed_blocks(b);
  EXPECT_EQ(hit.num_computed_tokens, 4);
  // One more token: both blocks are reused.
  Request c = make_request(3, iota_tokens(9));
  hit = kv.get_computed_blocks(c);
  EXPECT_EQ(hit.num_computed_tokens, 8);
  ASSERT_TRUE(kv.allocate_slots(c, 1, hit).has_value());
  EXPECT_EQ(c.num_computed_tokens, 8);
  EXPECT_EQ(c.block_table.size(), 3u);
  EXPECT_EQ(kv.prefix_cache_stats().num_queries, 3);
  EXPECT_EQ(kv.prefix_cache_stats().num_query_tokens, 8 + 8 + 9);
  EXPECT_EQ(kv.prefix_cache_stats().num_hit_tokens, 4 + 8);
  kv.free(c);
  EXPECT_EQ(kv.pool().num_free_blocks(), 15);
}

TEST(KVCacheManager, AllocateSlotsReturnsNulloptAndChangesNothing) {
  KVCacheManager kv(config(4));  // 3 usable blocks: 12 tokens
  Request a = make_request(1, iota_tokens(13));
  ComputedBlocks hit = kv.get_computed_blocks(a);
  EXPECT_FALSE(kv.allocate_slots(a, 13, hit).has_value());
  EXPECT_TRUE(a.block_table.empty());
  EXPECT_EQ(kv.pool().num_free_blocks(), 3);
  ASSERT_TRUE(kv.allocate_slots(a, 12, hit).has_value());
  a.num_computed_tokens = 12;
  EXPECT_FALSE(kv.allocate_slots(a, 1).has_value());
  EXPECT_EQ(a.block_table.size(), 3u);
  kv.free(a);
  EXPECT_EQ(kv.pool().num_free_blocks(), 3);
}

TEST(KVCacheManager, DecodeGrowsTheTableAndCachesBlocksAsTheyFill) {
  KVCacheManager kv(config(8));
  Request a = make_request(1, iota_tokens(3));
  ASSERT_TRUE(admit(kv, a));
  EXPECT_EQ(kv.pool().num_cached_blocks(), 0);
  a.token_ids.push_back(7);
  auto ids = kv.allocate_slots(a, 1);
  ASSERT_TRUE(ids.has_value());
  EXPECT_TRUE(ids->empty());  // the 4th token fits the first block
  a.num_computed_tokens += 1;
  EXPECT_EQ(kv.pool().num_cached_blocks(), 1);
  a.token_ids.push_back(8);
  ids = kv.allocate_slots(a, 1);
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(ids->size(), 1u);
  EXPECT_EQ(a.block_table.size(), 2u);
  kv.free(a);
}

TEST(KVCacheManager, FreeingEvictsTheTailOfASequenceFirst) {
  KVCacheManager kv(config(4));
  Request a = make_request(1, iota_tokens(12));
  ASSERT_TRUE(admit(kv, a));
  const std::vector<BlockId> table = a.block_table;
  kv.free(a);
  EXPECT_EQ(kv.pool().num_cached_blocks(), 3);
  // An unrelated request needs one block: it takes a's last block, the least shareable one.
  Request b = make_request(2, iota_tokens(2, 900));
  ASSERT_TRUE(admit(kv, b));
  EXPECT_EQ(b.block_table, (std::vector<BlockId>{table[2]}));
  Request c = make_request(3, iota_tokens(12));
  EXPECT_EQ(kv.get_computed_blocks(c).num_computed_tokens, 8);
  kv.free(b);
}

TEST(KVCacheManager, SharedBlocksAreCountedOnce) {
  KVCacheManager kv(config(8));
  Request a = make_request(1, iota_tokens(9));
  ASSERT_TRUE(admit(kv, a));
  Request b = make_request(2, iota_tokens(9));
  ASSERT_TRUE(admit(kv, b));
  EXPECT_EQ(a.block_table[0], b.block_table[0]);
  EXPECT_EQ(a.block_table[1], b.block_table[1]);
  EXPECT_NE(a.block_table[2], b.block_table[2]);
  EXPECT_EQ(kv.pool().ref_count(a.block_table[0]), 2);
  EXPECT_EQ(kv.pool().num_free_blocks(), 7 - 4);
  kv.free(a);
  EXPECT_EQ(kv.pool().ref_count(b.block_table[0]), 1);
  kv.free(b);
  EXPECT_EQ(kv.pool().num_free_blocks(), 7);
}

TEST(KVCacheManager, SaltAdapterAndMediaIsolateCaches) {
  KVCacheManager kv(config(16));
  Request a = make_request(1, iota_tokens(9), "tenant-1");
  ASSERT_TRUE(admit(kv, a));
  kv.free(a);
  EXPECT_EQ(kv.get_computed_blocks(make_request(2, iota_tokens(9), "tenant-2")).num_computed_tokens, 0);
  EXPECT_EQ(kv.get_computed_blocks(make_request(3, iota_tokens(9), "")).num_computed_tokens, 0);
  EXPECT_EQ(kv.get_computed_blocks(make_request(4, iota_tokens(9), "tenant-1")).num_computed_tokens, 8);

  Request lora = make_request(5, iota_tokens(9), "tenant-1");
  lora.adapter_id = "lora-x";
  EXPECT_EQ(kv.get_computed_blocks(lora).num_computed_tokens, 0);

  // The same placeholder tokens with another image: the block holding them and everything after differ.
  Request img_a = make_request(6, iota_tokens(13));
  img_a.media.push_back(MediaRange{5, 2, "sha-of-cat"});
  ASSERT_TRUE(admit(kv, img_a));
  kv.free(img_a);
  Request img_b = make_request(7, iota_tokens(13));
  img_b.media.push_back(MediaRange{5, 2, "sha-of-dog"});
  EXPECT_EQ(kv.get_computed_blocks(img_b).num_computed_tokens, 4);
  img_b.media[0].content_hash = "sha-of-cat";
  EXPECT_EQ(kv.get_computed_blocks(img_b).num_computed_tokens, 12);
}

TEST(KVCacheManager, PrefixCachingOff) {
  KVCacheConfig c = config(8);
  c.enable_prefix_caching = false;
  KVCacheManager kv(c);
  Request a = make_request(1, iota_tokens(9));
  ASSERT_TRUE(admit(kv, a));
  kv.free(a);
  EXPECT_EQ(kv.pool().num_cached_blocks(), 0);
  EXPECT_EQ(kv.get_computed_blocks(make_request(2, iota_tokens(9))).num_computed_tokens, 0);
  EXPECT_EQ(kv.prefix_cache_stats().num_queries, 0);
}

// Every block key collides: a hit must still be confirmed by the stored tokens, salt and parent.
BlockHash constant_hash(const BlockHash*, std::span<const TokenId>, const BlockExtraKeys&) { return {42, 42}; }

TEST(KVCacheManager, AHashCollisionCostsAMissNeverAWrongBlock) {
  KVCacheManager kv(config(16), constant_hash);
  Request a = make_request(1, iota_tokens(13), "s");
  ASSERT_TRUE(admit(kv, a));
  EXPECT_EQ(kv.pool().num_cached_blocks(), 1);  // later blocks collide with the first and stay uncached
  // Other tokens under the same key: a miss.
  EXPECT_EQ(kv.get_computed_blocks(make_request(2, iota_tokens(13, 500), "s")).num_computed_tokens, 0);
  // The same tokens under another salt: a miss.
  EXPECT_EQ(kv.get_computed_blocks(make_request(3, iota_tokens(13), "t")).num_computed_tokens, 0);
  // The same prefix: the first block is a true hit; the second lookup finds block 0 again, whose parent differs.
  Request d = make_request(4, iota_tokens(13), "s");
  ComputedBlocks hit = kv.get_computed_blocks(d);
  EXPECT_EQ(hit.block_ids, (std::vector<BlockId>{a.block_table[0]}));
  kv.free(a);
}

TEST(KVCacheManager, TwinPrefixesComputedAtOnceStayReachable) {
  KVCacheManager kv(config(16));
  // a computes only its first block; b computes the whole prompt without a hit (admitted in the same step).
  Request a = make_request(1, iota_tokens(13));
  Request b = make_request(2, iota_tokens(13));
  ComputedBlocks hit_b = kv.get_computed_blocks(b);
  ASSERT_TRUE(kv.allocate_slots(a, 4).has_value());
  ASSERT_TRUE(kv.allocate_slots(b, 13, hit_b).has_value());
  EXPECT_NE(a.block_table[0], b.block_table[0]);
  // c walks a's first block, then b's later ones, which name a's block as their parent.
  Request c = make_request(3, iota_tokens(13));
  ComputedBlocks hit = kv.get_computed_blocks(c);
  EXPECT_EQ(hit.block_ids, (std::vector<BlockId>{a.block_table[0], b.block_table[1], b.block_table[2]}));
  kv.free(a);
  kv.free(b);
}

// ---- randomized property test ----

// What a block's K/V would hold: the salt and the tokens of the whole prefix through the block's last slot.
struct ShadowBlock {
  std::string salt;
  std::vector<TokenId> prefix;
};

struct WorkloadResult {
  int64_t num_hit_tokens = 0;
  int64_t num_preemptions = 0;
};

WorkloadResult run_workload(uint64_t seed, const BlockHashFn& hash_fn) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  constexpr int32_t kNumBlocks = 24;
  KVCacheManager kv(KVCacheConfig{kNumBlocks, kBlockSize, true, "m"}, hash_fn);
  // A tiny vocabulary makes equal blocks after different prefixes common, which the chaining must tell apart.
  std::vector<std::vector<TokenId>> bases(3);
  for (auto& b : bases) {
    for (int64_t i = 0, n = uniform(3, 24); i < n; ++i) b.push_back(static_cast<TokenId>(uniform(0, 3)));
  }
  std::vector<Request> running;
  std::map<BlockId, ShadowBlock> shadow;
  WorkloadResult result;
  RequestId next_id = 1;

  // The model's writes for tokens [num_computed_tokens, +num_new), then the scheduler's bookkeeping.
  auto compute = [&](Request& r, int64_t num_new) {
    for (int64_t pos = r.num_computed_tokens; pos < r.num_computed_tokens + num_new; ++pos) {
      const BlockId b = r.block_table[pos / kBlockSize];
      ASSERT_EQ(kv.pool().ref_count(b), 1) << "a block being written is shared";
      shadow[b] = ShadowBlock{r.cache_salt, {r.token_ids.begin(), r.token_ids.begin() + pos + 1}};
    }
    r.num_computed_tokens += num_new;
  };
  auto check_invariants = [&] {
    std::map<BlockId, int32_t> owners;
    std::map<BlockId, std::pair<const Request*, size_t>> first_owner;
    for (const Request& r : running) {
      for (size_t j = 0; j < r.block_table.size(); ++j) {
        const BlockId b = r.block_table[j];
        ASSERT_NE(b, kNullBlockId);
        ++owners[b];
        auto [it, fresh] = first_owner.try_emplace(b, &r, j);
        if (fresh) continue;
        // Shared: same position, equal salt and equal tokens through the block's end.
        const Request& o = *it->second.first;
        ASSERT_EQ(it->second.second, j) << "block " << b;
        ASSERT_EQ(o.cache_salt, r.cache_salt);
        const auto end = static_cast<int64_t>((j + 1) * kBlockSize);
        ASSERT_TRUE(std::equal(o.token_ids.begin(), o.token_ids.begin() + end, r.token_ids.begin()));
      }
    }
    int32_t num_zero = 0;
    for (BlockId b = 1; b < kNumBlocks; ++b) {
      const int32_t rc = kv.pool().ref_count(b);
      ASSERT_GE(rc, 0);
      ASSERT_EQ(rc, owners[b]) << "block " << b;
      num_zero += rc == 0;
    }
    ASSERT_EQ(kv.pool().num_free_blocks(), num_zero);
  };

  for (int op = 0; op < 1500; ++op) {
    const int64_t dice = uniform(0, 99);
    if (dice < 30 || running.empty()) {  // arrival
      std::vector<TokenId> tokens;
      const auto& base = bases[uniform(0, 2)];
      tokens.assign(base.begin(), base.begin() + uniform(0, static_cast<int64_t>(base.size())));
      for (int64_t i = 0, n = uniform(1, 12); i < n; ++i) tokens.push_back(static_cast<TokenId>(uniform(0, 3)));
      Request r = make_request(next_id++, std::move(tokens), uniform(0, 3) == 0 ? "salt" : "");
      ComputedBlocks hit = kv.get_computed_blocks(r);
      const auto len = static_cast<int64_t>(r.token_ids.size());
      EXPECT_LT(hit.num_computed_tokens, len);
      for (size_t j = 0; j < hit.block_ids.size(); ++j) {  // the hit's K/V really are this prefix's
        const ShadowBlock& s = shadow.at(hit.block_ids[j]);
        EXPECT_EQ(s.salt, r.cache_salt);
        EXPECT_TRUE(std::equal(s.prefix.begin(), s.prefix.end(), r.token_ids.begin(),
                               r.token_ids.begin() + static_cast<int64_t>(j + 1) * kBlockSize));
      }
      const int64_t chunk = uniform(1, len - hit.num_computed_tokens);  // chunked prefill
      if (kv.allocate_slots(r, chunk, hit)) {
        compute(r, chunk);
        running.push_back(std::move(r));
      }
    } else if (dice < 85) {  // a step of one running request: the next prefill chunk or one decode token
      const auto i = static_cast<size_t>(uniform(0, static_cast<int64_t>(running.size()) - 1));
      Request& r = running[i];
      int64_t n = static_cast<int64_t>(r.token_ids.size()) - r.num_computed_tokens;
      if (n > 0) {
        n = uniform(1, n);
      } else {
        r.token_ids.push_back(static_cast<TokenId>(uniform(0, 3)));
        n = 1;
      }
      if (kv.allocate_slots(r, n)) {
        compute(r, n);
      } else {  // preempted: recomputed later in a real engine; here it just leaves
        ++result.num_preemptions;
        kv.free(r);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else {  // finish or abort
      const auto i = static_cast<size_t>(uniform(0, static_cast<int64_t>(running.size()) - 1));
      kv.free(running[i]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
    check_invariants();
    if (::testing::Test::HasFatalFailure()) return result;
  }
  for (Request& r : running) kv.free(r);
  running.clear();
  EXPECT_EQ(kv.pool().num_free_blocks(), kNumBlocks - 1) << "leaked blocks, seed " << seed;
  for (BlockId b = 1; b < kNumBlocks; ++b) EXPECT_EQ(kv.pool().ref_count(b), 0);
  result.num_hit_tokens = kv.prefix_cache_stats().num_hit_tokens;
  return result;
}

TEST(KVCacheManager, RandomWorkloadsKeepTheInvariants) {
  WorkloadResult total;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    WorkloadResult r = run_workload(seed, hash_block);
    if (HasFatalFailure()) return;
    total.num_hit_tokens += r.num_hit_tokens;
    total.num_preemptions += r.num_preemptions;
  }
  // The workloads must exercise what they claim to: cache hits and a pool that runs out.
  EXPECT_GT(total.num_hit_tokens, 0);
  EXPECT_GT(total.num_preemptions, 0);
}

// A weak hash that ignores the parent and most tokens: collisions everywhere, and still no wrong sharing.
BlockHash weak_hash(const BlockHash*, std::span<const TokenId> tokens, const BlockExtraKeys&) {
  return BlockHash{static_cast<uint64_t>(tokens[0] % 2), 0};
}

TEST(KVCacheManager, RandomWorkloadsUnderCollisionsKeepTheInvariants) {
  for (uint64_t seed = 100; seed < 115; ++seed) {
    SCOPED_TRACE(seed);
    run_workload(seed, weak_hash);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tessera::engine

namespace tessera::engine {
namespace {

// Blocks are registered when allocated, before their step runs. A request that leaves before its step computed
// them (preempted, or the step failed) must not leave their keys behind, or a later hit would read unwritten K/V.
TEST(KVCacheManager, FreeForgetsBlocksThatWereNeverComputed) {
  KVCacheManager kv(config(16));
  Request a = make_request(1, iota_tokens(9));
  ASSERT_TRUE(kv.allocate_slots(a, 9).has_value());  // registers blocks 0 and 1; nothing computed yet
  kv.free(a);
  Request b = make_request(2, iota_tokens(9));
  EXPECT_EQ(kv.get_computed_blocks(b).num_computed_tokens, 0);

  // Computed blocks keep their keys as before.
  Request c = make_request(3, iota_tokens(9));
  ASSERT_TRUE(admit(kv, c));
  kv.free(c);
  Request d = make_request(4, iota_tokens(9));
  EXPECT_EQ(kv.get_computed_blocks(d).num_computed_tokens, 8);
}

TEST(KVCacheManager, ResetPrefixCacheForgetsEveryKey) {
  KVCacheManager kv(config(16));
  Request a = make_request(1, iota_tokens(9));
  ASSERT_TRUE(admit(kv, a));
  kv.reset_prefix_cache();
  kv.free(a);
  Request b = make_request(2, iota_tokens(9));
  EXPECT_EQ(kv.get_computed_blocks(b).num_computed_tokens, 0);
  EXPECT_EQ(kv.pool().num_cached_blocks(), 0);
  EXPECT_EQ(kv.pool().num_free_blocks(), 15);
}

}  // namespace
}  // namespace tessera::engine
