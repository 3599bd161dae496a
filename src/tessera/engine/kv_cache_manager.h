// KVCacheManager: what each request needs from the BlockPool. It finds a new request's longest cached prefix,
// gives a request the blocks for the tokens of the next step, registers blocks in the prefix cache as they fill,
// and returns a request's blocks. The scheduler sees block ids only, never the pool's links.
//
// Threading: engine thread only.
//
// A request's life with the manager:
//   auto hit = kv.get_computed_blocks(r);                   // once, on admission (again after a preemption)
//   kv.allocate_slots(r, n, hit);                           // each step: n tokens to compute; nullopt -> preempt
//   ... the model writes K/V; the scheduler advances r.num_computed_tokens ...
//   kv.free(r);                                             // finished, aborted or preempted
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/engine/block_hash.h"
#include "tessera/engine/block_pool.h"
#include "tessera/engine/request.h"

namespace tessera::engine {

struct KVCacheConfig {
  int32_t num_blocks = 0;   // including the null block
  int32_t block_size = 16;  // tokens per block
  bool enable_prefix_caching = true;
  std::string model_fingerprint;  // keys every block: caches of different weights never mix
};

// A cached prefix found for a request, not yet owned by it: allocate_slots takes ownership.
// Valid until the pool next changes (another allocate_slots or free): use it in the same scheduling decision.
struct ComputedBlocks {
  std::vector<BlockId> block_ids;
  std::vector<BlockHash> block_hashes;  // their keys, so allocate_slots does not hash them again
  int64_t num_computed_tokens = 0;      // block_ids.size() * block_size
};

struct PrefixCacheStats {
  int64_t num_queries = 0;       // get_computed_blocks calls with prefix caching on
  int64_t num_query_tokens = 0;  // prompt tokens looked up
  int64_t num_hit_tokens = 0;    // of those, tokens found in the cache
};

class KVCacheManager {
 public:
  // REQUIRES: config.num_blocks >= 2 and config.block_size >= 1. `hash_fn` is replaced only by tests.
  explicit KVCacheManager(KVCacheConfig config, BlockHashFn hash_fn = hash_block);
  KVCacheManager(const KVCacheManager&) = delete;
  KVCacheManager& operator=(const KVCacheManager&) = delete;

  // The longest cached prefix of request.token_ids in whole blocks. It never covers the last token, which must be
  // recomputed to produce logits. Empty when prefix caching is off. Changes no ref count; counts statistics
  // (each call counts, so a scheduler should call it once per admission attempt that may succeed).
  // `count_query` false leaves the statistics alone: a scheduler retrying an admission that failed for want of
  // blocks counts the request's query once.
  // REQUIRES: request.block_table is empty and request.num_computed_tokens == 0.
  ComputedBlocks get_computed_blocks(const Request& request, bool count_query = true);

  // n > 1: `child` (no blocks yet) takes shared ownership of the full blocks covering the first `num_tokens` of
  // `parent`, whose token ids it repeats, and counts them as computed. Through the prefix cache when the blocks
  // are registered; by reference otherwise (prefix caching off). Needs no free block, so it cannot fail.
  // REQUIRES: num_tokens <= parent.num_computed_tokens, child has no blocks and the same first num_tokens tokens.
  void share_prefix(const Request& parent, Request& child, int64_t num_tokens);

  // Makes room for `num_new_tokens` more tokens after request.num_computed_tokens (plus `computed`, a hit from
  // get_computed_blocks taken in the same step). On success the request owns `computed` (its
  // num_computed_tokens grows by computed.num_computed_tokens), its block table covers all those tokens, blocks
  // that are now full are registered in the prefix cache, and the newly allocated block ids are returned.
  // Returns std::nullopt, changing nothing, when the pool cannot supply the blocks; the scheduler then preempts.
  // REQUIRES: the tokens fit in request.token_ids; `computed` non-empty only on a request with no blocks, and
  // nothing allocated or freed since get_computed_blocks returned it.
  std::optional<std::vector<BlockId>> allocate_slots(Request& request, int64_t num_new_tokens,
                                                     const ComputedBlocks& computed = {});

  // Returns the request's blocks to the pool, last block first, so the tail of a sequence is evicted before its
  // (more shareable) head. Full blocks keep their keys for reuse, except blocks past num_computed_tokens (never
  // written) that nobody else holds. Clears block_table and num_computed_tokens.
  // Every request that allocate_slots saw must be freed once it leaves the running set.
  void free(Request& request);

  // Blocks a request of `num_tokens` tokens needs in all; a scheduler refuses requests above num_blocks() - 1.
  int64_t num_blocks_for(int64_t num_tokens) const;
  int32_t block_size() const { return config_.block_size; }
  const BlockPool& pool() const { return pool_; }
  // Forgets every cached key: after a failed forward pass nothing registered in it can be trusted.
  void reset_prefix_cache() { pool_.reset_prefix_cache(); }
  double usage() const { return pool_.usage(); }
  const PrefixCacheStats& prefix_cache_stats() const { return stats_; }

 private:
  // The manager's memory of a request's cached blocks between calls.
  struct RequestState {
    std::vector<BlockHash> block_hashes;  // keys of the request's full blocks computed so far, in order
    int64_t num_cached_blocks = 0;        // block_table[0, n) are registered (or deliberately left uncached)
    BlockRef last_cached;                 // the block a next cached block names as parent
  };

  // The cached prefix of `request`, at most `max_blocks` blocks long; no statistics.
  ComputedBlocks find_cached_prefix(const Request& request, int64_t max_blocks);
  BlockHash block_hash_at(const Request& request, RequestState& state, int64_t block_index);
  std::string extra_keys_at(const Request& request, int64_t block_index, std::vector<std::string>& media) const;
  BlockExtraKeys extra_keys_view(const Request& request, int64_t block_index, std::vector<std::string>& media) const;
  // True when the cached block `block_id` holds exactly this block of the request after `parent`.
  bool is_exact_hit(BlockId block_id, const BlockRef& parent, const Request& request, int64_t block_index) const;
  void cache_full_blocks(Request& request, RequestState& state, int64_t num_tokens);

  KVCacheConfig config_;
  BlockHashFn hash_fn_;
  BlockPool pool_;
  PrefixCacheStats stats_;
  std::unordered_map<RequestId, RequestState> states_;
};

}  // namespace tessera::engine
