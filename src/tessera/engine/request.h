// Request: the engine's per-request state as far as KV bookkeeping needs it. The scheduler will grow it (sampling
// parameters, status, outputs); only KVCacheManager writes block_table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/engine/block_hash.h"
#include "tessera/engine/block_pool.h"

namespace tessera::engine {

using RequestId = uint64_t;

// A media item (an image, an audio clip) whose placeholder tokens occupy [offset, offset + num_tokens) of
// token_ids. Its content hash keys every block those tokens touch: equal placeholder ids, other pixels.
struct MediaRange {
  int64_t offset = 0;
  int64_t num_tokens = 0;
  std::string content_hash;
};

struct Request {
  RequestId id = 0;
  std::vector<TokenId> token_ids;    // prompt then generated tokens
  int64_t num_computed_tokens = 0;   // tokens whose K/V are in block_table; the scheduler advances it per step
  std::vector<BlockId> block_table;  // logical block i -> physical block
  // Prefix-cache keys besides the tokens.
  std::string adapter_id;
  std::string cache_salt;
  std::vector<MediaRange> media;
};

}  // namespace tessera::engine
