// The answers of POST /v1/messages: the `message` object, and the streamed event sequence
//   message_start      (the message with empty content, stop_reason null, usage with input tokens)
//   content_block_start (index 0, {"type": "text", "text": ""})
//   ping
//   content_block_delta (index 0, {"type": "text_delta", "text"}) per event that brings text
//   content_block_stop
//   message_delta      ({"stop_reason", "stop_sequence"}, cumulative usage)
//   message_stop
// Stop reasons: an end-of-sequence or stop token -> "end_turn"; a stop sequence -> "stop_sequence" with
// stop_sequence set to it; max_tokens or the context's end -> "max_tokens". A failed sequence (engine error:
// api_error; shutdown: overloaded_error) ends the stream with an `error` event and nothing after it.
//
// Usage follows Anthropic's prompt-caching arithmetic: input_tokens counts the prompt tokens that were computed,
// cache_read_input_tokens those the prefix cache supplied (their sum is the prompt; Claude Code adds them up to
// track its context), cache_creation_input_tokens is 0 (caching is automatic and free here).
#pragma once

#include <span>
#include <string>

#include "tessera/engine/generation.h"
#include "tessera/server/api/anthropic/messages_request.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/response_accumulator.h"

namespace tessera::server::api::anthropic {

// REQUIRES: accumulated.done() and no error.
Json render_message(const MessagesRequest& request, const ResponseAccumulator& accumulated);
Reply message_reply(const MessagesRequest& request, const ResponseAccumulator& accumulated);

// `event: ping`, for a transport that keeps a quiet stream alive with Anthropic's own event.
std::string ping_event();

// Threading: one owner. `request` must outlive the stream.
class MessageStream {
 public:
  explicit MessageStream(const MessagesRequest& request) : request_(request) {}

  // The SSE text this event adds. The first event opens the message (message_start, content_block_start, ping):
  // its usage is the first that knows how much of the prompt the cache held.
  std::string on_event(const engine::RequestEvent& event);
  std::string on_events(std::span<const engine::RequestEvent> events);
  // message_stop (or an error event) was returned.
  bool done() const { return done_; }

 private:
  const MessagesRequest& request_;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace tessera::server::api::anthropic
