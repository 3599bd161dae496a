// Responder: how a handler answers one request, whole or streamed, now or later, from any thread.
//
// Threading: every method may be called from any thread, concurrently. Calls from one thread reach the client in
// the order they were made; calls from several threads in the order they took the responder's lock. Nothing blocks
// on the network: data is queued for the connection's I/O thread.
//
// A response is either send(), or start_stream() + write()* + end(). Calls out of that order, and calls after the
// connection closed, send nothing and return false.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "tessera/server/http/request.h"

namespace tessera::server::http {

class Responder {
 public:
  virtual ~Responder() = default;

  // The whole response, with a Content-Length. `extra_headers` may not set Content-Length, Transfer-Encoding or
  // Connection (they are dropped: the server owns framing). Returns false when nothing was sent.
  virtual bool send(int status, std::string_view content_type, std::string body, const HeaderList& extra_headers) = 0;

  // Starts a streamed response (chunked on HTTP/1.1, so the connection stays usable afterwards). A
  // `text/event-stream` stream gets a `: keep-alive` comment after each silent HttpServerConfig::sse_keepalive.
  virtual bool start_stream(int status, std::string_view content_type, const HeaderList& extra_headers) = 0;
  // Queues one piece of a started stream; an empty piece is ignored. Returns false when the connection is closed,
  // or when the client reads so slowly that more than HttpServerConfig::max_queued_bytes are waiting: the
  // connection is then closed and on_close fires.
  virtual bool write(std::string data) = 0;
  // Finishes a started stream.
  virtual bool end() = 0;

  // `fn` runs once if the connection closes before send() or end() was called: the client went away, stopped
  // reading, or the server shut down. It runs on an I/O thread and must be quick (mark the request aborted). When
  // the connection is already closed it runs at once on the calling thread; after send() or end() it never runs.
  // A later call replaces an earlier `fn`.
  virtual void on_close(std::function<void()> fn) = 0;
  // True once the connection closed before the response was complete.
  virtual bool is_closed() const = 0;
};

}  // namespace tessera::server::http
