// The context-length rules of the two APIs: a prompt that leaves no room for output is refused with the wording
// each API's clients recognise, and max_tokens is fitted into what remains.
//
// max_tokens past the context is clamped rather than refused, in both APIs: vLLM refuses it ("'max_tokens' is too
// large") and Anthropic's API refuses prompt + max_tokens over the window on older models, but clients written
// for large hosted contexts (Claude Code asks for 32000 tokens on every turn) would then fail outright on a small
// local model. A clamped sequence ends with "length" / "max_tokens" at the context's end, as if the client had
// asked for exactly that many tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tessera/server/api/api_error.h"

namespace tessera::server::api {

enum class Protocol { kOpenAI, kAnthropic };

// The prompt must leave room for one generated token (num_prompt_tokens < max_model_len), else a 400: OpenAI, as
// vLLM words it, "This model's maximum context length is M tokens. However, your request has N input tokens.
// Please reduce the length of the input messages." (param `param`, code context_length_exceeded); Anthropic,
// "prompt is too long: N tokens > M maximum" with M the longest prompt that fits (max_model_len - 1), the text
// Claude Code matches to decide to compact. Returns min(max_tokens, room left); no max_tokens means all of it.
ApiResult<int32_t> fit_max_tokens(Protocol protocol, int64_t num_prompt_tokens, std::optional<int64_t> max_tokens,
                                  int64_t max_model_len, const std::string& param);

}  // namespace tessera::server::api
