// ConnectionResponder: the Responder a Connection hands its handler. It checks the call order under a lock on the
// calling thread and posts the bytes onto the connection's strand, so any thread may answer.
//
// The lock, the state and the way back to the connection live in a ResponseLink that the connection keeps too: the
// connection can always detach from it when it closes, even while the responder is being destroyed on another
// thread. The link holds the connection only until the response is complete or the connection closes, so a
// responder kept after that (even after the server is gone) reaches nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "tessera/server/http/responder.h"

namespace tessera::server::http {

class Connection;

struct ResponseLink {
  enum class State {
    kNew,        // nothing sent
    kStreaming,  // start_stream() called
    kAborting,   // too many bytes queued: the connection is being closed
    kDone,       // send() or end() called: on_close will never fire
    kClosed,     // the connection closed first: on_close fired
  };

  explicit ResponseLink(std::shared_ptr<Connection> c) : connection(std::move(c)) {}

  // The connection's strand, as the connection closes: on_close fires if the response was unfinished.
  void detach();

  std::mutex mu;
  State state = State::kNew;               // guarded by mu
  std::shared_ptr<Connection> connection;  // guarded by mu; null once kDone or kClosed
  std::function<void()> on_close;          // guarded by mu
};

class ConnectionResponder final : public Responder {
 public:
  ConnectionResponder(std::shared_ptr<ResponseLink> link, uint64_t seq, bool chunked, size_t max_queued_bytes);
  // A response never begun is answered with 500; a stream never ended is cut off (the connection closes).
  ~ConnectionResponder() override;

  bool send(int status, std::string_view content_type, std::string body, const HeaderList& extra_headers) override;
  bool start_stream(int status, std::string_view content_type, const HeaderList& extra_headers) override;
  bool write(std::string data) override;
  bool end() override;
  void on_close(std::function<void()> fn) override;
  bool is_closed() const override;

 private:
  // Releases the connection and the callback: the response can no longer be closed early. REQUIRES: link_->mu held.
  std::function<void()> finish_locked();

  const std::shared_ptr<ResponseLink> link_;
  const uint64_t seq_;
  const bool chunked_;
  const size_t max_queued_bytes_;
};

}  // namespace tessera::server::http
