#include "tessera/engine/block_pool.h"

#include <cassert>
#include <utility>

namespace tessera::engine {

BlockPool::BlockPool(int32_t num_blocks) : blocks_(static_cast<size_t>(num_blocks)) {
  assert(num_blocks >= 2);
  // Ascending ids: a fresh pool hands out 1, 2, 3, ... which keeps early block tables easy to read in tests.
  for (BlockId id = 1; id < num_blocks; ++id) push_tail(id);
}

double BlockPool::usage() const {
  const int32_t usable = num_blocks() - 1;
  return 1.0 - static_cast<double>(num_free_) / usable;
}

std::optional<std::vector<BlockId>> BlockPool::allocate(int32_t n) {
  assert(n >= 0);
  if (n > num_free_) return std::nullopt;
  std::vector<BlockId> ids;
  ids.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    const BlockId id = free_head_;
    unlink(id);
    Block& b = blocks_[id];
    assert(b.ref_count == 0);
    if (b.key) {  // evict: the block's old contents are about to be overwritten
      cached_.erase(b.key->hash);
      b.key.reset();
    }
    ++b.generation;
    b.ref_count = 1;
    ids.push_back(id);
  }
  return ids;
}

void BlockPool::touch(std::span<const BlockId> block_ids) {
  for (BlockId id : block_ids) {
    check_usable(id);
    Block& b = blocks_[id];
    if (b.ref_count == 0) {
      assert(b.key && "only a cached block can be touched while free");
      unlink(id);
    }
    ++b.ref_count;
  }
}

void BlockPool::free(std::span<const BlockId> block_ids) {
  for (BlockId id : block_ids) {
    check_usable(id);
    Block& b = blocks_[id];
    assert(b.ref_count > 0);
    if (--b.ref_count > 0) continue;
    if (b.key) {
      push_tail(id);
    } else {
      push_head(id);
    }
  }
}

bool BlockPool::cache_block(BlockId block_id, CachedBlockKey key) {
  check_usable(block_id);
  Block& b = blocks_[block_id];
  assert(b.ref_count > 0 && !b.key);
  if (!cached_.try_emplace(key.hash, block_id).second) return false;
  b.key = std::move(key);
  return true;
}

void BlockPool::uncache(BlockId block_id) {
  check_usable(block_id);
  Block& b = blocks_[block_id];
  assert(b.ref_count > 0);
  if (!b.key) return;
  cached_.erase(b.key->hash);
  b.key.reset();
}

void BlockPool::reset_prefix_cache() {
  for (Block& b : blocks_) b.key.reset();
  cached_.clear();
}

std::optional<BlockId> BlockPool::find_cached(const BlockHash& hash) const {
  auto it = cached_.find(hash);
  if (it == cached_.end()) return std::nullopt;
  return it->second;
}

const CachedBlockKey* BlockPool::cached_key(BlockId block_id) const {
  check_usable(block_id);
  const Block& b = blocks_[block_id];
  return b.key ? &*b.key : nullptr;
}

int32_t BlockPool::ref_count(BlockId block_id) const {
  check_usable(block_id);
  return blocks_[block_id].ref_count;
}

BlockRef BlockPool::ref(BlockId block_id) const {
  check_usable(block_id);
  return BlockRef{block_id, blocks_[block_id].generation};
}

void BlockPool::check_usable([[maybe_unused]] BlockId id) const {
  assert(id > kNullBlockId && id < num_blocks() && "the null block is never allocated, touched or freed");
}

void BlockPool::push_head(BlockId id) {
  Block& b = blocks_[id];
  assert(!b.in_free_list);
  b.prev = kNone;
  b.next = free_head_;
  if (free_head_ != kNone) {
    blocks_[free_head_].prev = id;
  } else {
    free_tail_ = id;
  }
  free_head_ = id;
  b.in_free_list = true;
  ++num_free_;
}

void BlockPool::push_tail(BlockId id) {
  Block& b = blocks_[id];
  assert(!b.in_free_list);
  b.next = kNone;
  b.prev = free_tail_;
  if (free_tail_ != kNone) {
    blocks_[free_tail_].next = id;
  } else {
    free_head_ = id;
  }
  free_tail_ = id;
  b.in_free_list = true;
  ++num_free_;
}

void BlockPool::unlink(BlockId id) {
  Block& b = blocks_[id];
  assert(b.in_free_list);
  if (b.prev != kNone) {
    blocks_[b.prev].next = b.next;
  } else {
    free_head_ = b.next;
  }
  if (b.next != kNone) {
    blocks_[b.next].prev = b.prev;
  } else {
    free_tail_ = b.prev;
  }
  b.prev = b.next = kNone;
  b.in_free_list = false;
  --num_free_;
}

}  // namespace tessera::engine
