// What OpenAI's response objects share: usage, finish_reason, and the envelope of a streamed chunk.
#pragma once

#include <string>
#include <string_view>

#include "tessera/engine/generation.h"
#include "tessera/server/api/json_body.h"

namespace tessera::server::api::openai {

// {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details": {"cached_tokens"}}
Json usage_json(const engine::Usage& usage);

// "stop" (an end-of-sequence token, a stop token or a stop string) or "length" (max_tokens or the context).
// REQUIRES: reason is kStop or kLength.
const char* finish_reason(engine::FinishReason reason);

// {"id", "object", "created", "model", "choices": [choice], ("usage": null when include_usage)} as SSE. OpenAI
// sends "usage": null on every chunk but the last when usage was asked for.
std::string chunk_sse(std::string_view id, std::string_view object, int64_t created, std::string_view model,
                      Json choices, bool include_usage);
// The final chunk of include_usage: "choices": [] and the request's usage.
std::string usage_chunk_sse(std::string_view id, std::string_view object, int64_t created, std::string_view model,
                            const engine::Usage& usage);

}  // namespace tessera::server::api::openai
