// The prefix-cache key of a full KV block. A key names the block's whole prefix, not just its own tokens: it
// chains the parent block's key, so two blocks with equal tokens after different prefixes never share a key.
// The key is XXH3-128 over a canonical byte encoding (explicit little-endian widths, length-prefixed fields, a
// version tag) with a fixed seed, so the same prefix has the same key in every process and on every machine;
// the router and KV migration rely on that.
//
// Why XXH3-128 and not SHA-256: the key is only an index. Every hit is confirmed against the stored token ids,
// extra keys and parent (see CachedBlockKey in block_pool.h), so a collision, accidental or crafted, costs a cache
// miss and never wrong output; a cryptographic hash would buy nothing here and costs ~10x the time on the admission
// path. 128 bits keep accidental collisions (and so lost hits) negligible at any realistic cache size.
//
// Threading: free functions over values; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace tessera::engine {

using TokenId = int32_t;

struct BlockHash {
  uint64_t lo = 0;
  uint64_t hi = 0;
  friend bool operator==(const BlockHash&, const BlockHash&) = default;
};

struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const { return static_cast<size_t>(h.lo ^ (h.hi * 0x9e3779b97f4a7c15ull)); }
};

// What besides the token ids decides the KV of a block. The same tokens under another model, adapter, image or
// tenant produce other K and V, so they must not share a block.
struct BlockExtraKeys {
  std::string_view model_fingerprint;         // the weights and anything that changes K/V (dtype, rope scaling)
  std::string_view adapter_id;                // LoRA adapter; empty for the base model
  std::span<const std::string> media_hashes;  // content hashes of the media whose tokens overlap this block
  std::string_view cache_salt;                // per-tenant isolation; hashed into the FIRST block only
};

// The canonical encoding of `extra` for a block (with or without the salt). Stored beside a cached block so a hit
// compares these bytes exactly instead of trusting the hash.
std::string encode_extra_keys(const BlockExtraKeys& extra, bool is_first_block);

// The key of a full block. `parent` is the previous block's key, or nullptr for the first block of a sequence;
// the cache salt enters only when parent is nullptr (it then reaches every later block through the chain).
BlockHash hash_block(const BlockHash* parent, std::span<const TokenId> token_ids, const BlockExtraKeys& extra);

// Tests replace the hash to inject collisions; production uses hash_block.
using BlockHashFn = std::function<BlockHash(const BlockHash*, std::span<const TokenId>, const BlockExtraKeys&)>;

}  // namespace tessera::engine
