// Session: one generation request between the engine and an HTTP response. It submits the request, then turns the
// engine's events into the API's bytes, streamed (SSE) or whole, and records the request's latencies.
//
// The engine thread only notifies: formatting JSON for every token of every client would slow every step, so a
// notification posts the session to the server's formatting threads, which poll the request's stream and write.
// At most one pump of a session runs at a time; notifications that arrive during it make it loop again.
//
// Threading: created on an I/O thread; pump() on a formatting thread; on_close from an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "tessera/engine/engine.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/response_accumulator.h"
#include "tessera/server/http/responder.h"
#include "tessera/server/metrics.h"

namespace tessera::server {

// How one endpoint renders what the engine produces. The lambdas keep alive whatever they read (the parsed
// request, the stream writer).
struct SessionFormat {
  bool stream = false;
  int32_t num_sequences = 1;
  // Streaming: the bytes for these events, and whether the stream has ended (after a finish or an error event).
  std::function<std::string(std::span<const engine::RequestEvent>)> on_events;
  std::function<bool()> done;
  // Whole: the response once every sequence finished; an error reply when one failed.
  std::function<api::Reply(const api::ResponseAccumulator&)> reply;
  std::function<api::Reply(const api::ApiError&)> error_reply;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Post = std::function<void(std::function<void()>)>;

  Session(engine::Engine& engine, Metrics& metrics, std::string request_id, std::string model_name,
          SessionFormat format, std::shared_ptr<http::Responder> responder, Post post);

  // Submits; answers the client with the API's error when the engine refuses. Call once.
  void start(engine::GenerationRequest request);

 private:
  void notify();
  void pump();
  void handle(std::span<const engine::RequestEvent> events);
  void finish(const std::string& outcome);

  using Clock = std::chrono::steady_clock;
  engine::Engine& engine_;
  Metrics& metrics_;
  const std::string request_id_, model_name_;
  SessionFormat format_;
  std::shared_ptr<http::Responder> responder_;
  Post post_;
  std::shared_ptr<engine::RequestStream> stream_;
  api::ResponseAccumulator accumulated_;
  std::atomic<int> notifications_{0};
  bool finished_ = false;  // pump only
  Clock::time_point submitted_, first_token_, last_token_;
  engine::FinishReason last_finish_ = engine::FinishReason::kStop;
  bool has_first_token_ = false;
  engine::Usage usage_;
};

}  // namespace tessera::server
