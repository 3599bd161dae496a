// POST /v1/chat/completions: the request body parsed, validated and turned into a ChatPrompt (the Hugging Face
// chat shape) and a GenerationRequest.
//
// Messages: roles system, developer (rendered as system: templates know only system), user, assistant, tool;
// content a string or an array of text parts (joined with "\n", as vLLM does for string-content templates); image,
// audio and file parts are a 400 saying they are not supported yet. An assistant's tool_calls keep their ids and
// get their `arguments` JSON string parsed into an object, as vLLM does, because templates write it with tojson.
// Tool messages need tool_call_id.
//
// Other fields, besides those of sampling_fields.h: logprobs and top_logprobs (0..20, only with logprobs: true),
// tools (passed to the template; each {"type": "function", "function": {"name", ...}}) and tool_choice ("none"
// leaves the tools out of the prompt; "auto", "required" and a named function render them but nothing forces a
// call yet), add_generation_prompt, continue_final_message, chat_template_kwargs, reasoning_effort (a template
// variable). 400s: echo: true, a per-request chat_template, response_format json_object/json_schema.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tessera/engine/generation.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/chat_prompt.h"
#include "tessera/server/api/context_fit.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/openai/sampling_fields.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api::openai {

struct ChatCompletionRequest {
  std::string id;  // "chatcmpl-..." (set by prepare_chat_completion)
  int64_t created = 0;
  const ServedModel* model = nullptr;
  ChatPrompt prompt;
  // sampling.num_logprobs is top_logprobs when logprobs is on, else -1. prepare_chat_completion sets the prompt
  // token ids and max_tokens (fitted to the context).
  engine::GenerationRequest generation;
  CommonFields common;
  bool logprobs = false;
};

// Parses and validates `body` (no template, no tokenizer work). Errors: 400 naming the field, 404 for a model
// `resolve` does not know.
ApiResult<ChatCompletionRequest> parse_chat_completion(const Json& body, const ModelResolver& resolve);

// What the glue calls: parse the body text, parse_chat_completion, render and tokenize the prompt, check it
// against the context (400 context_length_exceeded) and fit max_tokens into what remains of it. The result's
// `generation` is ready for Engine::submit.
ApiResult<ChatCompletionRequest> prepare_chat_completion(std::string_view body, const ModelResolver& resolve);

}  // namespace tessera::server::api::openai
