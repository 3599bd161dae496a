// ChatPrompt: a conversation in the shape Hugging Face chat templates expect, whichever API it came from, and its
// rendering into prompt token ids.
//
// The shape (what transformers' apply_chat_template passes and what templates are written against):
//   messages: [{"role": "system"|"user"|"assistant"|"tool", "content": "text"}, ...]
//     an assistant's tool calls: "tool_calls": [{"id", "type": "function",
//                                                "function": {"name", "arguments": {...object...}}}]
//     a tool's answer: {"role": "tool", "tool_call_id": "...", "content": "text"}
//   tools: [{"type": "function", "function": {"name", "description", "parameters": {...JSON schema...}}}] or null
// Content is always a string here (text parts are joined by the parsers): most templates cannot read parts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api {

struct ChatPrompt {
  Json messages = Json::array();
  Json tools;  // null when none
  bool add_generation_prompt = true;
  // The last message (an assistant's) is left open for the model to continue: rendered without its end-of-turn,
  // as transformers does (the text is cut right after that message's content). Excludes add_generation_prompt.
  bool continue_final_message = false;
  Json template_kwargs = Json::object();  // extra template variables (enable_thinking, ...)
};

struct RenderedPrompt {
  std::string text;
  std::vector<int32_t> token_ids;
};

// Renders `prompt` with the model's chat template and tokenizes the text as tessera chat and transformers do:
// special tokens written by the template are parsed, and none are added (the template writes BOS itself when
// the model wants one). Errors are 400s: no chat template, a template that raises (the raised message is the
// client's: "Conversation roles must alternate ..."), or output past the template's limits.
ApiResult<RenderedPrompt> render_chat_prompt(const ChatPrompt& prompt, const ServedModel& model);

}  // namespace tessera::server::api
