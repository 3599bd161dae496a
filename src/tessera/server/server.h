// Server: the routes of `tessera serve`, between the HTTP transport (http/) and the engines. It authenticates,
// picks the model a request names, hands the body to the API layer (api/) for parsing, submits to that model's
// engine and lets a Session stream the answer back. It also answers /health, /metrics, /v1/models, /tokenize and
// /detokenize.
//
// Lifecycle: start() listens at once (so /health can say 503 while models load), add_model() for each model,
// set_ready(), and shutdown() on a signal.
//
// Threading: start/add_model/set_ready/shutdown from the main thread; handlers on I/O threads; sessions' formatting
// on the server's own formatting threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tessera/engine/engine.h"
#include "tessera/server/api/served_model.h"
#include "tessera/server/http/http_server.h"
#include "tessera/server/metrics.h"

namespace tessera::server {

struct ServerOptions {
  http::HttpServerConfig http;
  std::vector<std::string> api_keys;  // empty: no authentication
  int num_format_threads = 1;         // threads turning engine events into response bytes
};

struct ModelEntry {
  api::ServedModel served;           // served.name is what responses echo
  std::vector<std::string> aliases;  // other names requests may use
  engine::Engine* engine = nullptr;  // owned by the caller; outlives the server
  std::unique_ptr<Metrics> metrics;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  uint16_t port() const;
  // REQUIRES: before set_ready().
  void add_model(ModelEntry entry);
  void set_ready();
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Stops accepting, lets responses under way finish for up to `grace`, closes the rest (aborting their
  // requests), waits for the engines to settle and stops the threads. Only the first call does anything; after it
  // the server no longer touches the engines, which may then be destroyed.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> ready_{false};
};

}  // namespace tessera::server
