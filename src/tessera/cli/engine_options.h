// The engine flags shared by `serve` and `bench throughput`, with vLLM's names: --max-num-seqs,
// --max-num-batched-tokens, --max-model-len, --block-size, --kv-cache-memory (bytes, K/M/G/T suffixes, powers of
// 1024), --num-blocks, --gpu-memory-utilization, --enable-prefix-caching / --no-enable-prefix-caching,
// --enable-chunked-prefill / --no-enable-chunked-prefill.
#pragma once

#include <set>
#include <string>

#include "tessera/cli/args.h"
#include "tessera/engine/engine_core.h"

namespace tessera::cli {

// Flag names (without dashes) to pass to Args::parse.
const std::set<std::string>& engine_value_flags();
const std::set<std::string>& engine_bool_flags();

// The engine configuration the flags describe; InvalidArgument naming the flag on a bad value. `defaults` are
// used for flags that are absent.
Expected<engine::EngineConfig> engine_config(const Args& args, engine::EngineConfig defaults = {});

// "4G" -> 4 GiB, "512M", "100000"; InvalidArgument on anything else.
Expected<int64_t> parse_byte_size(const std::string& text);

// One line for the log: how the pool was sized and what it holds.
std::string describe_pool(const engine::KVPoolPlan& plan, int32_t block_size, int64_t max_model_len);

}  // namespace tessera::cli
