#include "tessera/server/api/anthropic/messages_response.h"

#include <algorithm>

#include "tessera/server/api/anthropic/errors.h"
#include "tessera/server/api/sse.h"

namespace tessera::server::api::anthropic {
namespace {

Json usage_json(const engine::Usage& usage, int64_t output_tokens) {
  Json u = Json::object();
  u["input_tokens"] = usage.prompt_tokens - usage.cached_tokens;
  u["cache_creation_input_tokens"] = 0;
  u["cache_read_input_tokens"] = usage.cached_tokens;
  u["output_tokens"] = output_tokens;
  return u;
}

const char* stop_reason(engine::FinishReason reason, const std::string& stop_string) {
  if (reason == engine::FinishReason::kLength) return "max_tokens";
  return stop_string.empty() ? "end_turn" : "stop_sequence";
}

Json stop_sequence(const std::string& stop_string) { return stop_string.empty() ? Json(nullptr) : Json(stop_string); }

Json text_block(std::string text) {
  Json b = Json::object();
  b["type"] = "text";
  b["text"] = std::move(text);
  return b;
}

// The message object; `content`, stop fields and usage as given (empty and null at message_start).
Json message_json(const MessagesRequest& request, Json content, Json reason, Json sequence, Json usage) {
  Json m = Json::object();
  m["id"] = request.id;
  m["type"] = "message";
  m["role"] = "assistant";
  m["model"] = request.model->name;
  m["content"] = std::move(content);
  m["stop_reason"] = std::move(reason);
  m["stop_sequence"] = std::move(sequence);
  m["usage"] = std::move(usage);
  return m;
}

std::string event(std::string_view name, Json data) { return sse_event(name, dump(data)); }

}  // namespace

Json render_message(const MessagesRequest& request, const ResponseAccumulator& accumulated) {
  const SequenceOutput& s = accumulated.sequences().front();
  const engine::Usage& usage = accumulated.usage();
  return message_json(request, Json::array({text_block(s.text)}),
                      s.finish ? Json(stop_reason(*s.finish, s.stop_string)) : Json(nullptr),
                      stop_sequence(s.stop_string), usage_json(usage, usage.completion_tokens));
}

Reply message_reply(const MessagesRequest& request, const ResponseAccumulator& accumulated) {
  if (accumulated.error()) return error_reply(*accumulated.error());
  return {200, dump(render_message(request, accumulated))};
}

std::string ping_event() { return event("ping", Json{{"type", "ping"}}); }

std::string MessageStream::on_event(const engine::RequestEvent& event_in) {
  if (done_ || event_in.index != 0) return "";
  std::string out;
  if (!started_) {
    // Anthropic counts the first output token in message_start already.
    const int64_t output = std::min<int64_t>(event_in.usage.completion_tokens, 1);
    Json start = Json::object();
    start["type"] = "message_start";
    start["message"] = message_json(request_, Json::array(), nullptr, nullptr, usage_json(event_in.usage, output));
    out += event("message_start", std::move(start));
    Json block = Json::object();
    block["type"] = "content_block_start";
    block["index"] = 0;
    block["content_block"] = text_block("");
    out += event("content_block_start", std::move(block));
    out += ping_event();
    started_ = true;
  }
  if (event_in.finish && is_failure(*event_in.finish)) {
    done_ = true;
    return out + error_event(error_from_finish(event_in));
  }
  if (!event_in.text.empty()) {
    Json delta = Json::object();
    delta["type"] = "content_block_delta";
    delta["index"] = 0;
    delta["delta"] = Json{{"type", "text_delta"}, {"text", event_in.text}};
    out += event("content_block_delta", std::move(delta));
  }
  if (!event_in.finish) return out;
  out += event("content_block_stop", Json{{"type", "content_block_stop"}, {"index", 0}});
  Json message_delta = Json::object();
  message_delta["type"] = "message_delta";
  message_delta["delta"] = Json{{"stop_reason", stop_reason(*event_in.finish, event_in.stop_string)},
                                {"stop_sequence", stop_sequence(event_in.stop_string)}};
  message_delta["usage"] = usage_json(event_in.usage, event_in.usage.completion_tokens);
  out += event("message_delta", std::move(message_delta));
  out += event("message_stop", Json{{"type", "message_stop"}});
  done_ = true;
  return out;
}

std::string MessageStream::on_events(std::span<const engine::RequestEvent> events) {
  std::string out;
  for (const auto& e : events) out += on_event(e);
  return out;
}

}  // namespace tessera::server::api::anthropic
