// The answers of POST /v1/chat/completions: the `chat.completion` object, and the `chat.completion.chunk` stream.
//
// The stream, per request: on the first event, one chunk per choice with delta {"role": "assistant",
// "content": ""}; then a chunk per event that brings text (or logprobs) with delta {"content"}; when a choice
// finishes, a chunk with an empty delta and its finish_reason; once every choice finished, with include_usage a
// chunk with "choices": [] and the usage (every other chunk then carries "usage": null), and `data: [DONE]`.
// A sequence that fails (engine error, shutdown) ends the stream with an error chunk and `data: [DONE]`.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tessera/engine/generation.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/openai/chat_request.h"
#include "tessera/server/api/response_accumulator.h"

namespace tessera::server::api::openai {

// REQUIRES: accumulated.done() and no error.
Json render_chat_completion(const ChatCompletionRequest& request, const ResponseAccumulator& accumulated);
// 200 with render_chat_completion, or the accumulated error in OpenAI's envelope. REQUIRES: accumulated.done().
Reply chat_completion_reply(const ChatCompletionRequest& request, const ResponseAccumulator& accumulated);

// Threading: one owner. `request` must outlive the stream; its `generation` may have been moved into
// Engine::submit (only id, created, model and the logprobs settings are read).
class ChatCompletionStream {
 public:
  explicit ChatCompletionStream(const ChatCompletionRequest& request);

  // The SSE text this event adds (possibly empty); after the last choice's finish it ends with `data: [DONE]`.
  std::string on_event(const engine::RequestEvent& event);
  std::string on_events(std::span<const engine::RequestEvent> events);
  // The stream is complete ([DONE] was returned): the glue closes the response (and, after a failure, aborts the
  // engine request if other choices are still running).
  bool done() const { return done_; }

 private:
  std::string chunk(Json choice) const;

  const ChatCompletionRequest& request_;
  const int32_t num_top_logprobs_;
  std::vector<bool> finished_;
  int32_t num_finished_ = 0;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace tessera::server::api::openai
