// POST /v1/completions: a prompt (a string, an array of one string, an array of token ids or an array of one such
// array; several prompts are a 400 for now) with the fields of sampling_fields.h, `logprobs` as an integer
// 0..5 (the legacy API's number of alternatives) and `echo` (the prompt is put before each choice's text; with
// logprobs it is a 400, since prompt logprobs are not computed). `suffix` is a 400. String prompts are tokenized
// as vLLM does: special tokens in the text are parsed and the tokenizer's BOS is added.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/engine/generation.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/context_fit.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/openai/sampling_fields.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api::openai {

struct CompletionRequest {
  std::string id;  // "cmpl-..." (set by prepare_completion)
  int64_t created = 0;
  const ServedModel* model = nullptr;
  // Exactly one of these is the prompt: text, or token ids given by the client.
  std::string prompt_text;
  std::vector<int32_t> prompt_token_ids;
  bool prompt_is_tokens = false;
  engine::GenerationRequest generation;  // num_logprobs = logprobs, or -1
  CommonFields common;
  bool echo = false;
};

ApiResult<CompletionRequest> parse_completion(const Json& body, const ModelResolver& resolve);

// parse_json_body + parse_completion + tokenizing + the context check (400 context_length_exceeded) + max_tokens
// (16 when not given, as OpenAI and vLLM default; fitted to the context).
ApiResult<CompletionRequest> prepare_completion(std::string_view body, const ModelResolver& resolve);

// The prompt's text as echo shows it (decoded when the client sent token ids).
std::string echo_text(const CompletionRequest& request);

}  // namespace tessera::server::api::openai
