// The answers of POST /v1/completions: the `text_completion` object, streamed or not. Streamed, each event that
// brings text, logprobs or a finish is one chunk {"choices": [{"text", "index", "logprobs", "finish_reason"}]}
// (the finish rides on the choice's last text, as the legacy API and vLLM send it); then, as in chat, the usage
// chunk with include_usage and `data: [DONE]`. With echo the prompt's text starts each choice.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tessera/engine/generation.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/openai/completion_request.h"
#include "tessera/server/api/openai/logprobs.h"
#include "tessera/server/api/response_accumulator.h"

namespace tessera::server::api::openai {

// REQUIRES: accumulated.done() and no error.
Json render_completion(const CompletionRequest& request, const ResponseAccumulator& accumulated);
Reply completion_reply(const CompletionRequest& request, const ResponseAccumulator& accumulated);

// Threading: one owner. `request` must outlive the stream; its `generation` may have been moved into
// Engine::submit (only id, created, model, the prompt and the logprobs setting are read).
class CompletionStream {
 public:
  explicit CompletionStream(const CompletionRequest& request);

  std::string on_event(const engine::RequestEvent& event);
  std::string on_events(std::span<const engine::RequestEvent> events);
  bool done() const { return done_; }

 private:
  const CompletionRequest& request_;
  const bool wants_logprobs_;
  std::string echo_;
  std::vector<bool> started_, finished_;
  std::vector<CompletionLogprobs> logprobs_;
  int32_t num_finished_ = 0;
  bool done_ = false;
};

}  // namespace tessera::server::api::openai
