#include "tessera/server/api/openai/chat_response.h"

#include "tessera/server/api/openai/errors.h"
#include "tessera/server/api/openai/logprobs.h"
#include "tessera/server/api/openai/response_common.h"
#include "tessera/server/api/sse.h"

namespace tessera::server::api::openai {
namespace {

constexpr std::string_view kChunkObject = "chat.completion.chunk";

Json choice_json(int32_t index, std::string_view key, Json value, Json logprobs, Json finish_reason) {
  Json c = Json::object();
  c["index"] = index;
  c[std::string(key)] = std::move(value);
  c["logprobs"] = std::move(logprobs);
  c["finish_reason"] = std::move(finish_reason);
  return c;
}

int32_t num_top(const ChatCompletionRequest& r) { return std::max(0, r.generation.sampling.num_logprobs); }

}  // namespace

Json render_chat_completion(const ChatCompletionRequest& request, const ResponseAccumulator& accumulated) {
  Json choices = Json::array();
  const auto& sequences = accumulated.sequences();
  for (size_t i = 0; i < sequences.size(); ++i) {
    const SequenceOutput& s = sequences[i];
    Json message = Json::object();
    message["role"] = "assistant";
    message["content"] = s.text;
    Json logprobs =
        request.logprobs ? chat_logprobs(*request.model->tokenizer, s.logprobs, num_top(request)) : Json(nullptr);
    choices.push_back(choice_json(static_cast<int32_t>(i), "message", std::move(message), std::move(logprobs),
                                  s.finish ? Json(finish_reason(*s.finish)) : Json(nullptr)));
  }
  Json out = Json::object();
  out["id"] = request.id;
  out["object"] = "chat.completion";
  out["created"] = request.created;
  out["model"] = request.model->name;
  out["choices"] = std::move(choices);
  out["usage"] = usage_json(accumulated.usage());
  return out;
}

Reply chat_completion_reply(const ChatCompletionRequest& request, const ResponseAccumulator& accumulated) {
  if (accumulated.error()) return error_reply(*accumulated.error());
  return {200, dump(render_chat_completion(request, accumulated))};
}

ChatCompletionStream::ChatCompletionStream(const ChatCompletionRequest& request)
    : request_(request), num_top_logprobs_(num_top(request)), finished_(std::max(1, request.generation.n), false) {}

std::string ChatCompletionStream::chunk(Json choice) const {
  return chunk_sse(request_.id, kChunkObject, request_.created, request_.model->name, Json::array({std::move(choice)}),
                   request_.common.include_usage);
}

std::string ChatCompletionStream::on_event(const engine::RequestEvent& event) {
  const int32_t n = static_cast<int32_t>(finished_.size());
  if (done_ || event.index < 0 || event.index >= n || finished_[event.index]) return "";
  std::string out;
  if (!started_) {
    for (int32_t i = 0; i < n; ++i)
      out += chunk(choice_json(i, "delta", Json{{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
    started_ = true;
  }
  if (event.finish && is_failure(*event.finish)) {
    done_ = true;
    return out + error_chunk(error_from_finish(event));
  }
  const bool with_logprobs = request_.logprobs && !event.logprobs.empty();
  if (!event.text.empty() || with_logprobs) {
    Json logprobs =
        with_logprobs ? chat_logprobs(*request_.model->tokenizer, event.logprobs, num_top_logprobs_) : Json(nullptr);
    out += chunk(choice_json(event.index, "delta", Json{{"content", event.text}}, std::move(logprobs), nullptr));
  }
  if (!event.finish) return out;
  out += chunk(choice_json(event.index, "delta", Json::object(), nullptr, finish_reason(*event.finish)));
  finished_[event.index] = true;
  if (++num_finished_ < n) return out;
  if (request_.common.include_usage)
    out += usage_chunk_sse(request_.id, kChunkObject, request_.created, request_.model->name, event.usage);
  done_ = true;
  return out + std::string(kSseDone);
}

std::string ChatCompletionStream::on_events(std::span<const engine::RequestEvent> events) {
  std::string out;
  for (const auto& e : events) out += on_event(e);
  return out;
}

}  // namespace tessera::server::api::openai
