// Log-probabilities in OpenAI's two shapes, from the engine's SampleResults (token id, logprob, top alternatives):
//   chat:        {"content": [{"token", "logprob", "bytes": [...], "top_logprobs": [{"token", "logprob", "bytes"}]}]}
//   completions: {"tokens": [...], "token_logprobs": [...], "top_logprobs": [{token: logprob, ...}],
//                 "text_offset": [...]}
// A token's "token" is its bytes as text; a token that ends inside a UTF-8 character shows U+FFFD there, and
// "bytes" keeps the exact bytes so a client can join them. -inf (a token the filters ruled out) is sent as
// -9999.0, as vLLM does, since JSON has no infinity.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tessera/engine/sampler.h"
#include "tessera/server/api/json_body.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::server::api::openai {

// Characters (code points) in valid UTF-8: the unit of the legacy API's text_offset.
int64_t num_utf8_chars(std::string_view utf8);

// `num_top`: how many alternatives the client asked for (top_logprobs).
Json chat_logprobs(const tokenizer::Tokenizer& tok, std::span<const engine::SampleResult> results, int32_t num_top);

// One choice's legacy logprobs; text_offset counts characters from the start of the choice's text, so the object
// carries the offset from one chunk to the next.
class CompletionLogprobs {
 public:
  explicit CompletionLogprobs(int64_t start_offset = 0) : offset_(start_offset) {}
  Json render(const tokenizer::Tokenizer& tok, std::span<const engine::SampleResult> results);

 private:
  int64_t offset_;
};

}  // namespace tessera::server::api::openai
