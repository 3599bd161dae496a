#include "tessera/server/api/openai/completion_response.h"

#include "tessera/server/api/openai/errors.h"
#include "tessera/server/api/openai/response_common.h"
#include "tessera/server/api/sse.h"

namespace tessera::server::api::openai {
namespace {

constexpr std::string_view kObject = "text_completion";

Json choice_json(int32_t index, std::string text, Json logprobs, Json finish_reason) {
  Json c = Json::object();
  c["text"] = std::move(text);
  c["index"] = index;
  c["logprobs"] = std::move(logprobs);
  c["finish_reason"] = std::move(finish_reason);
  return c;
}

bool wants_logprobs(const CompletionRequest& r) { return r.generation.sampling.num_logprobs >= 0; }

}  // namespace

Json render_completion(const CompletionRequest& request, const ResponseAccumulator& accumulated) {
  const std::string echo = request.echo ? echo_text(request) : "";
  Json choices = Json::array();
  const auto& sequences = accumulated.sequences();
  for (size_t i = 0; i < sequences.size(); ++i) {
    const SequenceOutput& s = sequences[i];
    Json logprobs = wants_logprobs(request)
                        ? CompletionLogprobs(num_utf8_chars(echo)).render(*request.model->tokenizer, s.logprobs)
                        : Json(nullptr);
    choices.push_back(choice_json(static_cast<int32_t>(i), echo + s.text, std::move(logprobs),
                                  s.finish ? Json(finish_reason(*s.finish)) : Json(nullptr)));
  }
  Json out = Json::object();
  out["id"] = request.id;
  out["object"] = kObject;
  out["created"] = request.created;
  out["model"] = request.model->name;
  out["choices"] = std::move(choices);
  out["usage"] = usage_json(accumulated.usage());
  return out;
}

Reply completion_reply(const CompletionRequest& request, const ResponseAccumulator& accumulated) {
  if (accumulated.error()) return error_reply(*accumulated.error());
  return {200, dump(render_completion(request, accumulated))};
}

CompletionStream::CompletionStream(const CompletionRequest& request)
    : request_(request),
      wants_logprobs_(wants_logprobs(request)),
      echo_(request.echo ? echo_text(request) : ""),
      started_(std::max(1, request.generation.n), false),
      finished_(started_.size(), false),
      logprobs_(started_.size(), CompletionLogprobs(num_utf8_chars(echo_))) {}

std::string CompletionStream::on_event(const engine::RequestEvent& event) {
  const int32_t n = static_cast<int32_t>(finished_.size());
  if (done_ || event.index < 0 || event.index >= n || finished_[event.index]) return "";
  if (event.finish && is_failure(*event.finish)) {
    done_ = true;
    return error_chunk(error_from_finish(event));
  }
  std::string text = started_[event.index] ? "" : echo_;
  started_[event.index] = true;
  text += event.text;
  const bool with_logprobs = wants_logprobs_ && !event.logprobs.empty();
  std::string out;
  if (!text.empty() || with_logprobs || event.finish) {
    Json logprobs =
        with_logprobs ? logprobs_[event.index].render(*request_.model->tokenizer, event.logprobs) : Json(nullptr);
    Json choice = choice_json(event.index, std::move(text), std::move(logprobs),
                              event.finish ? Json(finish_reason(*event.finish)) : Json(nullptr));
    out = chunk_sse(request_.id, kObject, request_.created, request_.model->name, Json::array({std::move(choice)}),
                    request_.common.include_usage);
  }
  if (!event.finish) return out;
  finished_[event.index] = true;
  if (++num_finished_ < n) return out;
  if (request_.common.include_usage)
    out += usage_chunk_sse(request_.id, kObject, request_.created, request_.model->name, event.usage);
  done_ = true;
  return out + std::string(kSseDone);
}

std::string CompletionStream::on_events(std::span<const engine::RequestEvent> events) {
  std::string out;
  for (const auto& e : events) out += on_event(e);
  return out;
}

}  // namespace tessera::server::api::openai
