// HttpServer: an asynchronous HTTP/1.1 server for `tessera serve`. It routes (method, path) to handlers and knows
// nothing about the APIs it carries: server/api registers the handlers and shapes the error bodies.
//
// A few I/O threads serve every connection (Boost.Asio underneath, no thread per connection). Each connection
// handles its requests one after another (keep-alive, pipelining-safe) and keeps a read pending while a response
// is under way, so a client that goes away is noticed at once and the Responder's on_close fires.
//
// Threading: route() and set_error_handler() before start(); start() once; port() and shutdown() from any thread
// but an I/O thread (a handler must not shut the server down: it would wait for itself). Handlers run on an I/O
// thread and should return quickly (parse, validate, hand the work on); they may answer later from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/server/http/request.h"
#include "tessera/server/http/responder.h"
#include "tessera/util/status.h"

namespace tessera::server::http {

struct HttpServerConfig {
  std::string host = "127.0.0.1";  // an address or a name; "0.0.0.0" or "::" for every interface
  uint16_t port = 0;               // 0: an ephemeral port, see HttpServer::port()
  int num_io_threads = 2;
  size_t max_header_bytes = 64 << 10;  // request line + fields; more -> 431
  size_t max_body_bytes = 32 << 20;    // more -> 413
  // Timeouts; 0 turns one off. A keep-alive connection with no request under way is closed after idle_timeout.
  std::chrono::milliseconds idle_timeout{60'000};
  // From the first byte of a request to its last; more -> 408 and the connection closes.
  std::chrono::milliseconds request_timeout{60'000};
  // A client that accepts no bytes for this long while a response is being written is dropped.
  std::chrono::milliseconds write_timeout{60'000};
  // A `text/event-stream` response silent for this long gets a `: keep-alive` comment; 0 turns it off.
  std::chrono::milliseconds sse_keepalive{10'000};
  // Bytes a streamed response may have waiting for a slow client before the connection is dropped.
  size_t max_queued_bytes = 8 << 20;
  // Origins allowed to make cross-origin requests ("*" for any); empty turns CORS off.
  std::vector<std::string> cors_allowed_origins;
};

// Answers one request. `request` lives only during the call; copy what an answer given later needs.
using Handler = std::function<void(const Request& request, std::shared_ptr<Responder> responder)>;

struct ErrorBody {
  std::string content_type;
  std::string body;
};
// Shapes the errors the server itself answers: 400 malformed, 404 unknown path, 405 wrong method, 408 too slow, 413
// body too large, 431 header too large, 500 handler threw or dropped its responder. `request` holds what was parsed
// before the error (for 431 possibly nothing). Called on an I/O thread.
using ErrorHandler = std::function<ErrorBody(int status, std::string_view message, const Request& request)>;

// `{"error":{"message":"..."}}` as application/json.
ErrorBody default_error_body(int status, std::string_view message, const Request& request);

class HttpServer {
 public:
  explicit HttpServer(HttpServerConfig config);
  // Shuts down with no grace if shutdown() was not called.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes exact (method, path) pairs; a later route for the same pair replaces the earlier one. REQUIRES: before
  // start().
  void route(std::string method, std::string path, Handler handler);
  // REQUIRES: before start().
  void set_error_handler(ErrorHandler handler);

  // Binds, listens and starts the I/O threads. Fails with Unavailable when the address cannot be bound (port in
  // use, permission) and InvalidArgument for a bad host or config; the server is then unusable.
  Status start();
  // The bound port (the ephemeral one when configured with 0); 0 before start().
  uint16_t port() const;

  // Stops accepting at once and closes idle connections; lets responses under way finish for up to `grace`
  // (their connections close when they are done); then closes the rest (their on_close fires) and joins the I/O
  // threads. Safe to call twice, and from a thread watching for signals; a second call waits for the first.
  void shutdown(std::chrono::milliseconds grace);

  // Connections open now (for tests and metrics).
  size_t num_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::server::http
