#include "tessera/engine/block_hash.h"

#include <xxhash.h>

namespace tessera::engine {
namespace {

// Fixed forever for version 1 of the encoding: changing either changes every key (and must bump the tag).
constexpr uint64_t kSeed = 0x7465737365726131ull;  // "tessera1"
constexpr std::string_view kTag = "tessera.kv-block.v1";

// Bytes are appended one at a time so the encoding is little-endian whatever the host order.
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_bytes(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

}  // namespace

std::string encode_extra_keys(const BlockExtraKeys& extra, bool is_first_block) {
  std::string out;
  put_bytes(out, extra.model_fingerprint);
  put_bytes(out, extra.adapter_id);
  put_u64(out, extra.media_hashes.size());
  for (const std::string& h : extra.media_hashes) put_bytes(out, h);
  // A presence byte keeps "first block, empty salt" distinct from "not the first block".
  out.push_back(is_first_block ? 1 : 0);
  if (is_first_block) put_bytes(out, extra.cache_salt);
  return out;
}

BlockHash hash_block(const BlockHash* parent, std::span<const TokenId> token_ids, const BlockExtraKeys& extra) {
  std::string bytes;
  bytes.reserve(kTag.size() + 64 + 4 * token_ids.size() + extra.model_fingerprint.size());
  put_bytes(bytes, kTag);
  bytes.push_back(parent ? 1 : 0);
  if (parent) {
    put_u64(bytes, parent->lo);
    put_u64(bytes, parent->hi);
  }
  put_u64(bytes, token_ids.size());
  for (TokenId t : token_ids) put_u32(bytes, static_cast<uint32_t>(t));
  bytes += encode_extra_keys(extra, parent == nullptr);
  const XXH128_hash_t h = XXH3_128bits_withSeed(bytes.data(), bytes.size(), kSeed);
  return BlockHash{h.low64, h.high64};
}

}  // namespace tessera::engine
