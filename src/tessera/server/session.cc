#include "tessera/server/session.h"

#include "tessera/util/log.h"

namespace tessera::server {

Session::Session(engine::Engine& engine, Metrics& metrics, std::string request_id, std::string model_name,
                 SessionFormat format, std::shared_ptr<http::Responder> responder, Post post)
    : engine_(engine),
      metrics_(metrics),
      request_id_(std::move(request_id)),
      model_name_(std::move(model_name)),
      format_(std::move(format)),
      responder_(std::move(responder)),
      post_(std::move(post)),
      accumulated_(format_.num_sequences) {}

void Session::start(engine::GenerationRequest request) {
  submitted_ = Clock::now();
  auto submitted = engine_.submit(std::move(request));
  if (!submitted.ok()) {
    const api::Reply r = format_.error_reply(api::error_from_status(submitted.status()));
    responder_->send(r.http_status, "application/json", r.body, {});
    metrics_.record_http_error();
    return;
  }
  stream_ = *submitted;
  if (format_.stream) {
    // Headers now, so the client sees the response start (and SSE keep-alives) during a long prefill.
    responder_->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}, {"X-Request-Id", request_id_}});
  }
  // A client that goes away aborts its request; the engine frees its blocks at the next step.
  std::weak_ptr<engine::RequestStream> weak = stream_;
  engine::Engine* engine = &engine_;
  responder_->on_close([weak, engine] {
    if (auto s = weak.lock()) engine->abort(s->id());
  });
  // The notifier owns the session until finish() drops it: the engine always ends a request, so this cycle
  // always breaks.
  stream_->set_notifier([self = shared_from_this()] { self->notify(); });
}

void Session::notify() {
  if (notifications_.fetch_add(1) == 0) post_([self = shared_from_this()] { self->pump(); });
}

void Session::pump() {
  for (;;) {
    int seen = notifications_.load();
    if (!finished_) {
      std::vector<engine::RequestEvent> events = stream_->poll();
      if (!events.empty()) handle(events);
    }
    // More notifications while handling: go round again; else the next notification posts a new pump.
    if (notifications_.compare_exchange_strong(seen, 0)) return;
  }
}

void Session::handle(std::span<const engine::RequestEvent> events) {
  const Clock::time_point now = Clock::now();
  for (const engine::RequestEvent& ev : events) {
    usage_ = ev.usage;
    if (ev.finish) last_finish_ = *ev.finish;
    if (ev.token_ids.empty()) continue;
    if (!has_first_token_) {
      has_first_token_ = true;
      first_token_ = now;
      metrics_.record_first_token(std::chrono::duration<double>(now - submitted_).count());
    } else {
      // Events that arrive together share the gap since the last one.
      const double gap = std::chrono::duration<double>(now - last_token_).count();
      for (size_t i = 0; i < ev.token_ids.size(); ++i)
        metrics_.record_inter_token(gap / static_cast<double>(ev.token_ids.size()));
    }
    last_token_ = now;
  }
  if (format_.stream) {
    std::string bytes = format_.on_events(events);
    if (!bytes.empty() && !responder_->write(std::move(bytes))) {
      finish("disconnected");
      return;
    }
    if (format_.done()) {
      responder_->end();
      finish("ok");
    }
    return;
  }
  accumulated_.add(events);
  if (!accumulated_.done()) return;
  if (accumulated_.error()) {
    const api::Reply r = format_.error_reply(*accumulated_.error());
    responder_->send(r.http_status, "application/json", r.body, {});
    finish("error");
  } else {
    const api::Reply r = format_.reply(accumulated_);
    responder_->send(r.http_status, "application/json", r.body, {{"X-Request-Id", request_id_}});
    finish("ok");
  }
}

void Session::finish(const std::string& outcome) {
  finished_ = true;
  stream_->set_notifier(nullptr);
  // Harmless when the request already finished; ends the other sequences when one failed or the client left.
  engine_.abort(stream_->id());
  const double seconds = std::chrono::duration<double>(Clock::now() - submitted_).count();
  const double ttft_ms =
      has_first_token_ ? 1000.0 * std::chrono::duration<double>(first_token_ - submitted_).count() : -1;
  metrics_.record_request(outcome == "ok" ? engine::finish_reason_name(last_finish_) : outcome, seconds);
  if (outcome != "ok") metrics_.record_http_error();
  TESSERA_LOG_INFO("request %s model=%s in=%lld cached=%lld out=%lld ttft_ms=%.1f duration_ms=%.1f status=%s",
                   request_id_.c_str(), model_name_.c_str(), static_cast<long long>(usage_.prompt_tokens),
                   static_cast<long long>(usage_.cached_tokens), static_cast<long long>(usage_.completion_tokens),
                   ttft_ms, 1000.0 * seconds, outcome.c_str());
}

}  // namespace tessera::server
