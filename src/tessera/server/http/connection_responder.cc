#include "tessera/server/http/connection_responder.h"

#include <boost/asio/post.hpp>
#include <utility>

#include "tessera/server/http/connection.h"
#include "tessera/server/http/wire.h"
#include "tessera/util/log.h"

namespace tessera::server::http {

using State = ResponseLink::State;

void ResponseLink::detach() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu);
    connection.reset();
    if (state == State::kDone || state == State::kClosed) return;
    state = State::kClosed;
    fn = std::exchange(on_close, nullptr);
  }
  if (!fn) return;
  try {
    fn();
  } catch (const std::exception& e) {
    TESSERA_LOG_ERROR("http: an on_close callback threw: %s", e.what());
  } catch (...) {
    TESSERA_LOG_ERROR("http: an on_close callback threw");
  }
}

ConnectionResponder::ConnectionResponder(std::shared_ptr<ResponseLink> link, uint64_t seq, bool chunked,
                                         size_t max_queued_bytes)
    : link_(std::move(link)), seq_(seq), chunked_(chunked), max_queued_bytes_(max_queued_bytes) {}

ConnectionResponder::~ConnectionResponder() {
  std::function<void()> dropped;
  std::lock_guard lock(link_->mu);
  if (!link_->connection) return;
  const auto& c = link_->connection;
  if (link_->state == State::kNew) {
    boost::asio::post(c->strand(), [c, seq = seq_] { c->answer_abandoned(seq); });
  } else if (link_->state == State::kStreaming) {
    boost::asio::post(c->strand(), [c, seq = seq_] { c->abort(seq, "the stream was dropped before end()"); });
  }
  link_->state = State::kDone;
  dropped = finish_locked();
}

std::function<void()> ConnectionResponder::finish_locked() {
  link_->connection.reset();
  return std::exchange(link_->on_close, nullptr);
}

bool ConnectionResponder::send(int status, std::string_view content_type, std::string body,
                               const HeaderList& extra_headers) {
  std::function<void()> dropped;  // destroyed after the lock is released: it may hold this responder
  std::lock_guard lock(link_->mu);
  if (link_->state != State::kNew || !link_->connection) return false;
  link_->state = State::kDone;
  // Counted so the connection's total is right, but never refused: a whole body is already in memory.
  const size_t n = body.size();
  const auto& c = link_->connection;
  c->queued_bytes().fetch_add(n);
  boost::asio::post(c->strand(), [c, seq = seq_, status, ct = std::string(content_type), fields = extra_headers,
                                  body = std::move(body), n]() mutable {
    c->respond(seq, status, std::move(ct), std::move(fields), std::move(body), n);
  });
  dropped = finish_locked();
  return true;
}

bool ConnectionResponder::start_stream(int status, std::string_view content_type, const HeaderList& extra_headers) {
  std::lock_guard lock(link_->mu);
  if (link_->state != State::kNew || !link_->connection) return false;
  link_->state = State::kStreaming;
  const auto& c = link_->connection;
  boost::asio::post(c->strand(),
                    [c, seq = seq_, status, ct = std::string(content_type), fields = extra_headers]() mutable {
                      c->stream_start(seq, status, std::move(ct), std::move(fields));
                    });
  return true;
}

bool ConnectionResponder::write(std::string data) {
  std::lock_guard lock(link_->mu);
  if (link_->state != State::kStreaming || !link_->connection) return false;
  if (data.empty()) return true;
  std::string framed = chunked_ ? frame_chunk(data) : std::move(data);
  const size_t n = framed.size();
  const auto& c = link_->connection;
  if (c->queued_bytes().fetch_add(n) + n > max_queued_bytes_) {
    c->queued_bytes().fetch_sub(n);
    // The client reads slower than we produce: holding more would let one client grow memory without bound.
    link_->state = State::kAborting;
    boost::asio::post(c->strand(), [c, seq = seq_] { c->abort(seq, "the client reads too slowly"); });
    return false;
  }
  boost::asio::post(c->strand(), [c, seq = seq_, framed = std::move(framed), n]() mutable {
    c->stream_data(seq, std::move(framed), n);
  });
  return true;
}

bool ConnectionResponder::end() {
  std::function<void()> dropped;
  std::lock_guard lock(link_->mu);
  if (link_->state != State::kStreaming || !link_->connection) return false;
  link_->state = State::kDone;
  const auto& c = link_->connection;
  boost::asio::post(c->strand(), [c, seq = seq_] { c->stream_end(seq); });
  dropped = finish_locked();
  return true;
}

void ConnectionResponder::on_close(std::function<void()> fn) {
  {
    std::lock_guard lock(link_->mu);
    if (link_->state == State::kDone) return;
    if (link_->state != State::kClosed) {
      std::swap(link_->on_close, fn);
      return;  // the replaced callback, now in fn, is destroyed after the lock is released
    }
  }
  if (fn) fn();
}

bool ConnectionResponder::is_closed() const {
  std::lock_guard lock(link_->mu);
  return link_->state == State::kClosed || link_->state == State::kAborting;
}

}  // namespace tessera::server::http
