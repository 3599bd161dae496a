#include "tessera/server/http/http_server.h"

#include <pthread.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cassert>
#include <cstdio>
#include <future>
#include <optional>
#include <thread>

#include "tessera/server/http/connection.h"
#include "tessera/util/log.h"

namespace tessera::server::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Connections closed by force still need their strands to run close(); this bounds the wait for an I/O thread
// that a handler blocks.
constexpr std::chrono::seconds kForceCloseWait{5};

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;  // bytes >= 0x80 pass through: a JSON string is UTF-8
        }
    }
  }
  out += '"';
}

Status validate(const HttpServerConfig& c) {
  if (c.num_io_threads < 1) return invalid_argument("http: num_io_threads must be at least 1");
  if (c.max_header_bytes < 1024) return invalid_argument("http: max_header_bytes must be at least 1024");
  if (c.max_queued_bytes == 0) return invalid_argument("http: max_queued_bytes must be positive");
  return Status();
}

}  // namespace

ErrorBody default_error_body(int /*status*/, std::string_view message, const Request& /*request*/) {
  ErrorBody e{"application/json", R"({"error":{"message":)"};
  append_json_string(e.body, message);
  e.body += "}}";
  return e;
}

// ---- ServerContext: the registry of open connections ----

void ServerContext::add(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  connections_.emplace(connection.get(), connection);
}

void ServerContext::remove(const Connection* connection) {
  std::lock_guard lock(mu_);
  connections_.erase(connection);
  if (connections_.empty()) empty_.notify_all();
}

std::vector<std::shared_ptr<Connection>> ServerContext::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(connections_.size());
  for (const auto& [ptr, weak] : connections_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

size_t ServerContext::size() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

bool ServerContext::wait_until_empty(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return empty_.wait_until(lock, deadline, [&] { return connections_.empty(); });
}

// ---- HttpServer ----

struct HttpServer::Impl {
  explicit Impl(HttpServerConfig config) : context(std::make_shared<ServerContext>(std::move(config))) {
    context->error_handler = default_error_body;
  }

  void accept();
  void on_accept(error_code ec, tcp::socket socket);
  void run_io_thread();

  std::shared_ptr<ServerContext> context;
  // Declared before the objects that use it, so it is destroyed after them.
  asio::io_context io{context->config.num_io_threads};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;  // on a strand of its own
  std::optional<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;

  std::mutex lifecycle_mu;  // start() and shutdown() hold it throughout
  bool started = false;     // guarded by lifecycle_mu
  bool running = false;     // guarded by lifecycle_mu
  std::atomic<uint16_t> port{0};
};

void HttpServer::Impl::accept() {
  // Each connection gets a strand of its own: its handlers never run concurrently, on any I/O thread.
  acceptor->async_accept(asio::make_strand(io),
                         [this](error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) {
    // Out of file descriptors, most likely: retrying at once would spin, so pause before accepting again.
    TESSERA_LOG_WARN("http: accept failed: %s", ec.message().c_str());
    accept_retry->expires_after(std::chrono::milliseconds(50));
    accept_retry->async_wait([this](error_code wait_ec) {
      if (!wait_ec && acceptor->is_open()) accept();
    });
    return;
  }
  if (context->stopping.load()) return;  // the socket closes as it goes out of scope
  error_code ignored;
  // Tokens go out as they are made: Nagle would hold a small SSE event back until the previous one is acked.
  socket.set_option(tcp::no_delay(true), ignored);
  auto connection = std::make_shared<Connection>(std::move(socket), context);
  context->add(connection);
  connection->start();
  accept();
}

void HttpServer::Impl::run_io_thread() {
  pthread_setname_np(pthread_self(), "tessera-http");
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      // Handlers catch what user code throws; this is a last line, so one bad request cannot end the server.
      TESSERA_LOG_ERROR("http: an I/O thread caught: %s", e.what());
    }
  }
}

HttpServer::HttpServer(HttpServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

HttpServer::~HttpServer() { shutdown(std::chrono::milliseconds(0)); }

void HttpServer::route(std::string method, std::string path, Handler handler) {
  assert(!impl_->started && "HttpServer::route() after start()");
  impl_->context->router.add(std::move(method), std::move(path), std::move(handler));
}

void HttpServer::set_error_handler(ErrorHandler handler) {
  assert(!impl_->started && "HttpServer::set_error_handler() after start()");
  impl_->context->error_handler = handler ? std::move(handler) : ErrorHandler(default_error_body);
}

Status HttpServer::start() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mu);
  if (s.started) return invalid_argument("http: the server was already started");
  s.started = true;
  const HttpServerConfig& config = s.context->config;
  TESSERA_RETURN_IF_ERROR(validate(config));

  error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(config.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, config.port);
  } else {
    tcp::resolver resolver(s.io);
    auto results = resolver.resolve(config.host, std::to_string(config.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return invalid_argument("http: cannot resolve host '" + config.host + "': " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = config.host + ":" + std::to_string(config.port);
  s.acceptor.emplace(asio::make_strand(s.io));
  s.accept_retry.emplace(s.acceptor->get_executor());
  s.acceptor->open(endpoint.protocol(), ec);
  // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT; on Linux it still refuses a
  // port another socket is listening on.
  if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    s.acceptor->close(ignored);
    return unavailable("http: cannot listen on " + where + ": " + ec.message());
  }
  s.port = s.acceptor->local_endpoint(ec).port();

  s.work.emplace(s.io.get_executor());
  asio::post(s.acceptor->get_executor(), [&s] { s.accept(); });
  for (int i = 0; i < config.num_io_threads; ++i) s.threads.emplace_back([&s] { s.run_io_thread(); });
  s.running = true;
  TESSERA_LOG_INFO("http: listening on %s:%u (%d I/O threads)", config.host.c_str(), static_cast<unsigned>(s.port),
                   config.num_io_threads);
  return Status();
}

uint16_t HttpServer::port() const { return impl_->port.load(); }

size_t HttpServer::num_connections() const { return impl_->context->size(); }

void HttpServer::shutdown(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  for (const auto& t : s.threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      // It would wait for the very thread it runs on.
      TESSERA_LOG_ERROR("http: shutdown() called from an I/O thread (a handler); ignored");
      assert(false && "HttpServer::shutdown() from an I/O thread");
      return;
    }
  }
  std::lock_guard lock(s.lifecycle_mu);
  if (!s.running) return;
  s.running = false;
  s.context->stopping.store(true);

  // Stop accepting, on the acceptor's strand so that no accept handler is halfway through registering a connection.
  std::promise<void> acceptor_closed;
  asio::post(s.acceptor->get_executor(), [&s, &acceptor_closed] {
    error_code ignored;
    s.acceptor->close(ignored);
    s.accept_retry->cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();

  // Idle connections close now; those with a response under way close once it is done, or when grace runs out.
  for (const auto& c : s.context->snapshot()) c->begin_shutdown();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  if (!s.context->wait_until_empty(deadline)) {
    const auto remaining = s.context->snapshot();
    TESSERA_LOG_INFO("http: closing %zu connections still open after the grace period", remaining.size());
    for (const auto& c : remaining) c->force_close();
    if (!s.context->wait_until_empty(std::chrono::steady_clock::now() + kForceCloseWait)) {
      TESSERA_LOG_WARN("http: connections still open: a handler is blocking an I/O thread");
    }
  }

  s.work.reset();
  s.io.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  // Whatever a blocked handler kept from closing is closed here, on this thread now that no other runs the
  // io_context: every responder is then detached, so none can reach the io_context once it is destroyed.
  s.io.restart();
  for (const auto& c : s.context->snapshot()) c->force_close();
  s.io.poll();
  TESSERA_LOG_INFO("http: stopped");
}

}  // namespace tessera::server::http
