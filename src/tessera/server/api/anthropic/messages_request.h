// POST /v1/messages and POST /v1/messages/count_tokens: the body parsed, validated and turned into a ChatPrompt
// (the Hugging Face chat shape) and a GenerationRequest.
//
// Conversion to the Hugging Face shape:
//   system (a string or text blocks, joined with "\n", Claude Code's billing-header line dropped) -> a first
//     {"role": "system"} message;
//   text blocks -> the message's content (joined with "\n");
//   an assistant's tool_use {id, name, input} -> "tool_calls": [{"id", "type": "function",
//     "function": {"name", "arguments": input}}];
//   a user's tool_result {tool_use_id, content (a string or text blocks)} -> {"role": "tool", "tool_call_id",
//     "content"}, in block order (text around it becomes user messages before/after it);
//   consecutive turns of one role are merged, as Anthropic does (templates that require alternation would
//     otherwise refuse them);
//   a last assistant message is a prefill: the prompt ends inside it and the model continues it;
//   thinking / redacted_thinking blocks of earlier turns are dropped (they are the model's scratch work).
// tools {name, description, input_schema} -> [{"type": "function", "function": {"name", "description",
// "parameters"}}]; Anthropic's server tools (a `type` such as web_search_20250305) are skipped, since nothing here
// can run them; tool_choice {"type": "none"} leaves the tools out, the others render them (nothing forces a call).
// `thinking` is accepted and ignored: the answer comes as text either way. image / document blocks are a 400
// saying images are not supported yet. temperature must be within [0, 1], as in Anthropic's API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tessera/engine/generation.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/chat_prompt.h"
#include "tessera/server/api/context_fit.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api::anthropic {

inline constexpr size_t kMaxStopSequences = 64;

struct MessagesRequest {
  std::string id;  // "msg_01..." (set by prepare_messages)
  const ServedModel* model = nullptr;
  ChatPrompt prompt;
  // prepare_messages sets the prompt token ids and max_tokens (fitted to the context).
  engine::GenerationRequest generation;
  int64_t max_tokens = 0;  // as asked
  bool stream = false;
  std::string user_id;  // metadata.user_id
};

// Parses and validates `body` (no template or tokenizer work). max_tokens is required unless `for_count_tokens`.
ApiResult<MessagesRequest> parse_messages(const Json& body, const ModelResolver& resolve,
                                          bool for_count_tokens = false);

// What the glue calls for POST /v1/messages: parse, render and tokenize, check the context (400 "prompt is too
// long: N tokens > M maximum") and fit max_tokens. The result's `generation` is ready for Engine::submit.
ApiResult<MessagesRequest> prepare_messages(std::string_view body, const ModelResolver& resolve);

// POST /v1/messages/count_tokens: {"input_tokens": N}, the rendered prompt's length (no context check).
ApiResult<Json> count_tokens(std::string_view body, const ModelResolver& resolve);

}  // namespace tessera::server::api::anthropic
