// BlockPool: the preallocated KV blocks of one model, their reference counts, the free list and the prefix-cache
// map (key -> block). It knows nothing about requests; KVCacheManager decides what a request needs.
//
// Threading: engine thread only (no locks).
//
// Free list layout: an intrusive doubly-linked list threaded through the blocks' `prev`/`next` ids, so removing a
// cached block from the middle (a prefix hit on a free block) is O(1), which a deque cannot do. Allocation takes
// the head. A freed block with no key goes to the head (reused first: nothing to lose); a freed cached block goes
// to the tail. Cached free blocks are therefore in least-recently-freed order and are evicted from the head, LRU.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/engine/block_hash.h"

namespace tessera::engine {

using BlockId = int32_t;

// Block 0 is reserved: never allocated, never freed, its ref count not maintained. Block tables use it as
// padding, so a stray write lands in a block nobody reads.
inline constexpr BlockId kNullBlockId = 0;

// A block's identity over time. `generation` changes every time the block is allocated afresh, so a reference
// taken before its reuse no longer matches.
struct BlockRef {
  BlockId block_id = kNullBlockId;
  uint64_t generation = 0;
  friend bool operator==(const BlockRef&, const BlockRef&) = default;
};

// What a cached block holds beside its hash, so a lookup can confirm a hit exactly: the parent block it followed
// (a null ref for the first block), its own token ids and its encoded extra keys. Equal parent + tokens + extras
// at every step means the whole prefix is equal, whatever the hash did.
struct CachedBlockKey {
  BlockHash hash;
  BlockRef parent;
  std::vector<TokenId> token_ids;
  std::string extra_keys;
};

class BlockPool {
 public:
  // REQUIRES: num_blocks >= 2 (the null block and at least one usable block).
  explicit BlockPool(int32_t num_blocks);
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  int32_t num_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  // Blocks that allocate() could hand out now (never-used, freed, and cached-but-unowned ones); the null block
  // is not counted.
  int32_t num_free_blocks() const { return num_free_; }
  // The fraction of usable blocks owned by some request, in [0, 1].
  double usage() const;

  // Takes `n` blocks from the head of the free list with ref count 1, evicting their cached keys. Returns
  // std::nullopt, changing nothing, when fewer than `n` are free.
  std::optional<std::vector<BlockId>> allocate(int32_t n);

  // Adds one owner to each block. A cached block with no owner leaves the free list (a prefix hit).
  // REQUIRES: each id is a usable block that is owned or cached (never a plain free block).
  void touch(std::span<const BlockId> block_ids);

  // Drops one owner from each block, in the given order. A block left with no owner joins the free list: at the
  // tail when cached (to be evicted in this order), at the head otherwise.
  // REQUIRES: each id is a usable block with ref count > 0.
  void free(std::span<const BlockId> block_ids);

  // Registers a full, owned block under key.hash. Returns false, changing nothing, when another block already
  // holds that hash (the same prefix computed twice, or a collision); the block then stays uncached.
  // REQUIRES: ref_count(block_id) > 0 and the block is not cached yet.
  bool cache_block(BlockId block_id, CachedBlockKey key);

  // Forgets the key of an owned block whose K/V turned out never to be written (its step failed, or its sequence
  // was preempted before the step ran). No-op for a block without a key.
  // REQUIRES: ref_count(block_id) > 0.
  void uncache(BlockId block_id);
  // Forgets every key (after a failed forward pass, when no cached content can be trusted). Owned blocks keep
  // their owners; free cached blocks become plain free blocks.
  void reset_prefix_cache();

  // The block cached under `hash`, if any. A candidate only: compare cached_key() before using it.
  std::optional<BlockId> find_cached(const BlockHash& hash) const;
  // The key of a cached block, or nullptr.
  const CachedBlockKey* cached_key(BlockId block_id) const;

  int32_t ref_count(BlockId block_id) const;
  BlockRef ref(BlockId block_id) const;
  int32_t num_cached_blocks() const { return static_cast<int32_t>(cached_.size()); }

 private:
  static constexpr BlockId kNone = -1;

  struct Block {
    int32_t ref_count = 0;
    uint64_t generation = 0;
    // Only the free-list functions below touch prev/next/in_free_list.
    BlockId prev = kNone;
    BlockId next = kNone;
    bool in_free_list = false;
    std::optional<CachedBlockKey> key;  // set while the block's contents are registered in cached_
  };

  void push_head(BlockId id);
  void push_tail(BlockId id);
  void unlink(BlockId id);
  void check_usable(BlockId id) const;

  std::vector<Block> blocks_;  // [num_blocks]; blocks_[0] is the null block
  BlockId free_head_ = kNone;
  BlockId free_tail_ = kNone;
  int32_t num_free_ = 0;
  std::unordered_map<BlockHash, BlockId, BlockHashHasher> cached_;  // hash -> the one block holding it
};

}  // namespace tessera::engine
