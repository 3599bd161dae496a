// Request: a sequence as the KV bookkeeping and the scheduler see it: token ids, how many are computed, and its
// block table. Only KVCacheManager writes block_table; the scheduler advances num_computed_tokens. The engine's
// CoreRequest (engine_core.h) extends it with sampling state.
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
  // Set by the scheduler at the first admission: how many tokens the prefix cache supplied (-1 before).
  int64_t num_cached_tokens = -1;
  bool prefix_query_counted = false;  // statistics count one cache query per sequence, however often it waits
  // Prefix-cache keys besides the tokens.
  std::string adapter_id;
  std::string cache_salt;
  std::vector<MediaRange> media;
};

}  // namespace tessera::engine
