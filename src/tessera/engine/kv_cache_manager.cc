#include "tessera/engine/kv_cache_manager.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace tessera::engine {

KVCacheManager::KVCacheManager(KVCacheConfig config, BlockHashFn hash_fn)
    : config_(std::move(config)), hash_fn_(std::move(hash_fn)), pool_(config_.num_blocks) {
  assert(config_.block_size >= 1);
}

int64_t KVCacheManager::num_blocks_for(int64_t num_tokens) const {
  return (num_tokens + config_.block_size - 1) / config_.block_size;
}

BlockExtraKeys KVCacheManager::extra_keys_view(const Request& request, int64_t block_index,
                                               std::vector<std::string>& media) const {
  const int64_t begin = block_index * config_.block_size;
  const int64_t end = begin + config_.block_size;
  media.clear();
  for (const MediaRange& m : request.media) {
    if (m.offset < end && m.offset + m.num_tokens > begin) media.push_back(m.content_hash);
  }
  return BlockExtraKeys{config_.model_fingerprint, request.adapter_id, media, request.cache_salt};
}

std::string KVCacheManager::extra_keys_at(const Request& request, int64_t block_index,
                                          std::vector<std::string>& media) const {
  return encode_extra_keys(extra_keys_view(request, block_index, media), block_index == 0);
}

BlockHash KVCacheManager::block_hash_at(const Request& request, RequestState& state, int64_t block_index) {
  // REQUIRES: block `block_index` of the request is full.
  assert((block_index + 1) * config_.block_size <= static_cast<int64_t>(request.token_ids.size()));
  std::vector<std::string> media;
  for (auto k = static_cast<int64_t>(state.block_hashes.size()); k <= block_index; ++k) {
    const BlockHash* parent = k == 0 ? nullptr : &state.block_hashes[k - 1];
    std::span<const TokenId> tokens(request.token_ids.data() + k * config_.block_size, config_.block_size);
    const BlockHash h = hash_fn_(parent, tokens, extra_keys_view(request, k, media));
    state.block_hashes.push_back(h);
  }
  return state.block_hashes[block_index];
}

bool KVCacheManager::is_exact_hit(BlockId block_id, const BlockRef& parent, const Request& request,
                                  int64_t block_index) const {
  const CachedBlockKey* key = pool_.cached_key(block_id);
  if (key == nullptr || key->parent != parent) return false;
  const auto first = request.token_ids.begin() + block_index * config_.block_size;
  if (!std::equal(key->token_ids.begin(), key->token_ids.end(), first, first + config_.block_size)) return false;
  std::vector<std::string> media;
  return key->extra_keys == extra_keys_at(request, block_index, media);
}

ComputedBlocks KVCacheManager::get_computed_blocks(const Request& request, bool count_query) {
  assert(request.block_table.empty() && request.num_computed_tokens == 0);
  if (!config_.enable_prefix_caching) return {};
  const auto num_tokens = static_cast<int64_t>(request.token_ids.size());
  // The last token is left out: its logits are needed, and they exist only if it is computed again.
  ComputedBlocks out =
      num_tokens == 0 ? ComputedBlocks{} : find_cached_prefix(request, (num_tokens - 1) / config_.block_size);
  if (count_query) {
    ++stats_.num_queries;
    stats_.num_query_tokens += num_tokens;
    stats_.num_hit_tokens += out.num_computed_tokens;
  }
  return out;
}

ComputedBlocks KVCacheManager::find_cached_prefix(const Request& request, int64_t max_blocks) {
  ComputedBlocks out;
  RequestState scratch;  // hashes only; the request has no state until allocate_slots
  BlockRef parent;       // the null ref: the first block's parent
  for (int64_t j = 0; j < max_blocks; ++j) {
    const BlockHash h = block_hash_at(request, scratch, j);
    const std::optional<BlockId> candidate = pool_.find_cached(h);
    // A hash match is only a candidate: a collision ends the hit here and costs a miss, never wrong K/V.
    if (!candidate || !is_exact_hit(*candidate, parent, request, j)) break;
    out.block_ids.push_back(*candidate);
    parent = pool_.ref(*candidate);
  }
  scratch.block_hashes.resize(out.block_ids.size());
  out.block_hashes = std::move(scratch.block_hashes);
  out.num_computed_tokens = static_cast<int64_t>(out.block_ids.size()) * config_.block_size;
  return out;
}

void KVCacheManager::share_prefix(const Request& parent, Request& child, int64_t num_tokens) {
  assert(child.block_table.empty() && child.num_computed_tokens == 0);
  assert(num_tokens <= parent.num_computed_tokens);
  const int64_t num_full = num_tokens / config_.block_size;
  if (config_.enable_prefix_caching) {
    // The parent registered its full blocks as it computed them, so the cache finds them (or their twins).
    const ComputedBlocks hit = find_cached_prefix(child, num_full);
    [[maybe_unused]] auto taken = allocate_slots(child, 0, hit);
    assert(taken.has_value());
    return;
  }
  const std::span<const BlockId> shared(parent.block_table.data(), static_cast<size_t>(num_full));
  pool_.touch(shared);
  child.block_table.assign(shared.begin(), shared.end());
  child.num_computed_tokens = num_full * config_.block_size;
  states_[child.id];  // free() erases it, as for any request the manager saw
}

std::optional<std::vector<BlockId>> KVCacheManager::allocate_slots(Request& request, int64_t num_new_tokens,
                                                                   const ComputedBlocks& computed) {
  assert(num_new_tokens >= 0);
  assert(computed.block_ids.empty() || (request.block_table.empty() && request.num_computed_tokens == 0));
  assert(computed.block_ids.size() == computed.block_hashes.size());
  const int64_t num_tokens = request.num_computed_tokens + computed.num_computed_tokens + num_new_tokens;
  assert(num_tokens <= static_cast<int64_t>(request.token_ids.size()));

  const auto num_owned = static_cast<int64_t>(request.block_table.size() + computed.block_ids.size());
  const int64_t num_needed = std::max<int64_t>(0, num_blocks_for(num_tokens) - num_owned);
  // A hit on a cached block nobody owns takes it off the free list, so it cannot also be counted as free.
  int64_t num_hits_on_free = 0;
  for (size_t i = 0; i < computed.block_ids.size(); ++i) {
    const BlockId id = computed.block_ids[i];
    [[maybe_unused]] const CachedBlockKey* key = pool_.cached_key(id);
    assert(key != nullptr && key->hash == computed.block_hashes[i] && "stale ComputedBlocks");
    if (pool_.ref_count(id) == 0) ++num_hits_on_free;
  }
  if (num_needed > pool_.num_free_blocks() - num_hits_on_free) return std::nullopt;

  pool_.touch(computed.block_ids);
  std::optional<std::vector<BlockId>> new_ids = pool_.allocate(static_cast<int32_t>(num_needed));
  assert(new_ids.has_value());

  RequestState& state = states_[request.id];
  if (!computed.block_ids.empty()) {
    state.block_hashes = computed.block_hashes;
    state.num_cached_blocks = static_cast<int64_t>(computed.block_ids.size());
    state.last_cached = pool_.ref(computed.block_ids.back());
  }
  request.block_table.insert(request.block_table.end(), computed.block_ids.begin(), computed.block_ids.end());
  request.block_table.insert(request.block_table.end(), new_ids->begin(), new_ids->end());
  request.num_computed_tokens += computed.num_computed_tokens;
  // The K/V of this step's tokens are written before anyone else can read them, so blocks they fill are
  // registered now, as vLLM does: a request admitted in the next step can already share them.
  if (config_.enable_prefix_caching) cache_full_blocks(request, state, num_tokens);
  return new_ids;
}

void KVCacheManager::cache_full_blocks(Request& request, RequestState& state, int64_t num_tokens) {
  const int64_t num_full = num_tokens / config_.block_size;
  std::vector<std::string> media;
  for (int64_t j = state.num_cached_blocks; j < num_full; ++j) {
    const BlockHash h = block_hash_at(request, state, j);
    const BlockId id = request.block_table[j];
    const auto first = request.token_ids.begin() + j * config_.block_size;
    CachedBlockKey key{h, state.last_cached, std::vector<TokenId>(first, first + config_.block_size),
                       extra_keys_at(request, j, media)};
    if (pool_.cache_block(id, std::move(key))) {
      state.last_cached = pool_.ref(id);
    } else if (std::optional<BlockId> other = pool_.find_cached(h);
               other && is_exact_hit(*other, state.last_cached, request, j)) {
      // The same prefix was computed by two requests at once: later blocks name the registered twin as parent,
      // so a lookup that walks the registered chain still reaches them.
      state.last_cached = pool_.ref(*other);
    } else {
      // A true hash collision: this block stays uncached, and its descendants name it as parent, which no
      // lookup can reach. They cost a few cache entries, never a wrong hit.
      state.last_cached = pool_.ref(id);
    }
    state.num_cached_blocks = j + 1;
  }
}

void KVCacheManager::free(Request& request) {
  // Blocks are registered when allocated, before the step computes them. A sequence leaving with blocks past its
  // computed tokens (preempted after allocation, or its step failed) must not leave their keys behind: the next
  // hit would read K/V nobody wrote. Shared blocks are left to their other owners.
  for (size_t j = static_cast<size_t>(request.num_computed_tokens / config_.block_size); j < request.block_table.size();
       ++j)
    if (pool_.ref_count(request.block_table[j]) == 1) pool_.uncache(request.block_table[j]);
  std::vector<BlockId> reversed(request.block_table.rbegin(), request.block_table.rend());
  pool_.free(reversed);
  request.block_table.clear();
  request.num_computed_tokens = 0;
  states_.erase(request.id);
}

}  // namespace tessera::engine
