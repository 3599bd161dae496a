#include "tessera/server/http/connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <span>

#include "tessera/server/http/connection_responder.h"
#include "tessera/server/http/wire.h"
#include "tessera/util/log.h"

namespace tessera::server::http {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using boost::system::error_code;

constexpr size_t kReadChunkBytes = 16 << 10;
// A refused request's unread body is drained for this long before closing (see linger_close).
constexpr std::chrono::milliseconds kLingerTime{2000};
// Small bodies go out in one buffer with their head; larger ones are not copied.
constexpr size_t kCoalesceBodyBytes = 16 << 10;

template <typename S>
std::string_view sv(const S& s) {
  return std::string_view(s.data(), s.size());
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_http_parse_error(const error_code& ec) {
  return &ec.category() == &beast_http::make_error_code(beast_http::error::bad_method).category();
}

std::string endpoint_string(const asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

Connection::Connection(tcp::socket socket, std::shared_ptr<ServerContext> server)
    : socket_(std::move(socket)),
      strand_(socket_.get_executor()),
      server_(std::move(server)),
      config_(server_->config),
      read_timer_(strand_),
      write_timer_(strand_),
      keepalive_timer_(strand_) {
  error_code ec;
  const auto ep = socket_.remote_endpoint(ec);
  remote_ = ec ? "unknown" : endpoint_string(ep);
}

void Connection::start() {
  asio::post(strand_, [self = shared_from_this()] { self->wait_for_request(); });
}

void Connection::begin_shutdown() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->phase_ == Phase::kResponding) {
      self->keep_alive_ = false;
    } else {
      self->close();
    }
  });
}

void Connection::force_close() {
  asio::post(strand_, [self = shared_from_this()] { self->close(); });
}

// ---- reading requests ----

void Connection::wait_for_request() {
  if (phase_ == Phase::kClosed) return;
  if (server_->stopping.load()) return close();
  phase_ = Phase::kIdle;
  if (buffer_.size() > 0) {
    // A pipelined request is already here. The read left pending by the last response must end first: it is
    // cancelled, and on_read_some() goes on from there.
    if (!read_in_flight_) return read_request();
    error_code ignored;
    socket_.cancel(ignored);
    return;
  }
  arm_read_timer(config_.idle_timeout);
  if (!read_in_flight_) read_some();
}

void Connection::read_some() {
  read_in_flight_ = true;
  socket_.async_read_some(buffer_.prepare(kReadChunkBytes),
                          [self = shared_from_this()](error_code ec, size_t n) { self->on_read_some(ec, n); });
}

void Connection::on_read_some(error_code ec, size_t n) {
  read_in_flight_ = false;
  if (phase_ == Phase::kClosed) return;
  buffer_.commit(n);
  switch (phase_) {
    case Phase::kIdle:
      if (buffer_.size() > 0) return read_request();
      if (ec == asio::error::operation_aborted) return read_some();
      return close();  // the client closed an idle connection
    case Phase::kResponding:
      if (ec == asio::error::operation_aborted) return;
      if (ec) return close();  // the client went away: an unfinished response's on_close fires now
      // Bytes of a pipelined request wait in the buffer; past a bound, stop reading (and noticing a close early).
      if (buffer_.size() < config_.max_header_bytes) read_some();
      return;
    case Phase::kLingering:
      buffer_.consume(buffer_.size());
      if (ec) return close();
      return read_some();
    case Phase::kReading:
    case Phase::kClosed:
      return;
  }
}

void Connection::read_request() {
  phase_ = Phase::kReading;
  timed_out_ = false;
  arm_read_timer(config_.request_timeout);
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(config_.max_header_bytes, UINT32_MAX)));
  // Unlimited while the header is read, so a too-large Content-Length is refused with the request's path known.
  parser_->body_limit(boost::none);
  beast_http::async_read_header(socket_, buffer_, *parser_,
                                [self = shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
}

void Connection::on_header(error_code ec) {
  if (phase_ != Phase::kReading) return;
  if (ec || timed_out_) return on_read_error(ec);
  if (const auto length = parser_->content_length(); length && *length > config_.max_body_bytes) {
    return fail(413, "request body is larger than " + std::to_string(config_.max_body_bytes) + " bytes");
  }
  parser_->body_limit(config_.max_body_bytes);  // still needed: a chunked body's size is known only as it arrives
  if (parser_->is_done()) return dispatch();
  if (iequals(sv(parser_->get()[beast_http::field::expect]), "100-continue")) {
    enqueue({std::string(kContinueResponse)});
  }
  beast_http::async_read(socket_, buffer_, *parser_,
                         [self = shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
}

void Connection::on_body(error_code ec) {
  if (phase_ != Phase::kReading) return;
  if (ec || timed_out_) return on_read_error(ec);
  dispatch();
}

void Connection::on_read_error(error_code ec) {
  if (timed_out_) {
    return fail(408, "request not received within " + std::to_string(config_.request_timeout.count()) + " ms");
  }
  if (ec == beast_http::error::header_limit) {
    return fail(431, "request header is larger than " + std::to_string(config_.max_header_bytes) + " bytes");
  }
  if (ec == beast_http::error::body_limit) {
    return fail(413, "request body is larger than " + std::to_string(config_.max_body_bytes) + " bytes");
  }
  if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message || !is_http_parse_error(ec)) {
    return close();  // the client went away mid-request, or the socket failed: nobody to answer
  }
  fail(400, "malformed HTTP request: " + ec.message());
}

void Connection::begin_response() {
  ++seq_;
  request_ = Request{};
  request_.remote_address = remote_;
  keep_alive_ = false;
  chunked_ = true;
  if (parser_ && parser_->is_header_done()) {
    const auto& msg = parser_->get();
    request_.method = std::string(sv(msg.method_string()));
    const std::string_view target = sv(msg.target());
    const size_t q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    request_.headers.reserve(16);
    for (const auto& field : msg) request_.headers.emplace_back(sv(field.name_string()), sv(field.value()));
    request_.version = static_cast<int>(msg.version());
    keep_alive_ = msg.keep_alive() && !server_->stopping.load();
    chunked_ = msg.version() >= 11;
  }
  allow_origin_ = server_->cors.allow_origin(request_);
  head_queued_ = response_queued_ = sse_ = false;
  status_ = 0;
  bytes_out_ = 0;
  started_at_ = Clock::now();
  link_.reset();
}

void Connection::dispatch() {
  disarm_read_timer();
  begin_response();
  request_.body = std::move(parser_->get().body());
  parser_.reset();
  phase_ = Phase::kResponding;
  // Keep a read pending for as long as the response is under way: a client that goes away is noticed at once.
  if (buffer_.size() < config_.max_header_bytes) read_some();
  link_ = std::make_shared<ResponseLink>(shared_from_this());
  route(std::make_shared<ConnectionResponder>(link_, seq_, chunked_, config_.max_queued_bytes));
  // The handler has taken what it needs; a long stream should not hold the request body.
  request_.body = std::string();
}

void Connection::route(const std::shared_ptr<ConnectionResponder>& responder) {
  const ServerContext& server = *server_;
  if (server.cors.enabled() && CorsPolicy::is_preflight(request_)) {
    if (allow_origin_.empty()) {
      ErrorBody e = error_body(403, "CORS origin not allowed");
      responder->send(403, e.content_type, std::move(e.body), {});
    } else {
      responder->send(204, "", "",
                      CorsPolicy::preflight_fields(request_, server.router.allowed_methods(request_.path)));
    }
    return;
  }
  const Router::Match match = server.router.find(request_.method, request_.path);
  if (!match.handler) {
    HeaderList fields;
    std::string message;
    if (match.status == 405) {
      fields.emplace_back("Allow", match.allow);
      message = "method " + request_.method + " is not allowed for " + request_.path;
    } else {
      message = "no route for " + request_.method + " " + request_.path;
    }
    ErrorBody e = error_body(match.status, message);
    responder->send(match.status, e.content_type, std::move(e.body), fields);
    return;
  }
  try {
    (*match.handler)(request_, responder);
    return;
  } catch (const std::exception& e) {
    TESSERA_LOG_ERROR("http: the handler of %s %s threw: %s", request_.method.c_str(), request_.path.c_str(), e.what());
  } catch (...) {
    TESSERA_LOG_ERROR("http: the handler of %s %s threw", request_.method.c_str(), request_.path.c_str());
  }
  ErrorBody e = error_body(500, "internal server error");
  responder->send(500, e.content_type, std::move(e.body), {});  // a no-op if the handler had begun answering
}

void Connection::fail(int status, std::string message) {
  disarm_read_timer();
  begin_response();
  keep_alive_ = false;  // the rest of the request is unread: the connection cannot carry another
  phase_ = Phase::kResponding;
  TESSERA_LOG_DEBUG("http: %s: %d %s", remote_.c_str(), status, message.c_str());
  ErrorBody e = error_body(status, message);
  respond(seq_, status, std::move(e.content_type), {}, std::move(e.body), 0);
}

ErrorBody Connection::error_body(int status, std::string_view message) {
  try {
    return server_->error_handler(status, message, request_);
  } catch (const std::exception& e) {
    TESSERA_LOG_ERROR("http: the error handler threw: %s", e.what());
  } catch (...) {
    TESSERA_LOG_ERROR("http: the error handler threw");
  }
  return default_error_body(status, message, request_);
}

// ---- responses, posted by ConnectionResponder ----

void Connection::respond(uint64_t seq, int status, std::string content_type, HeaderList fields, std::string body,
                         size_t counted) {
  if (seq != seq_ || phase_ != Phase::kResponding || head_queued_) {
    queued_bytes_.fetch_sub(counted);
    return;
  }
  if (server_->stopping.load()) keep_alive_ = false;
  head_queued_ = response_queued_ = true;
  status_ = status;
  if (!status_has_body(status)) body.clear();
  std::string h = head(status, content_type, fields, body.size(), false);
  if (body.size() <= kCoalesceBodyBytes) {
    h += body;
    enqueue({std::move(h), counted, true});
  } else {
    enqueue({std::move(h)});
    enqueue({std::move(body), counted, true});
  }
}

void Connection::stream_start(uint64_t seq, int status, std::string content_type, HeaderList fields) {
  if (seq != seq_ || phase_ != Phase::kResponding || head_queued_) return;
  // An HTTP/1.0 stream has no chunks: closing the connection is what ends it.
  if (!chunked_ || server_->stopping.load()) keep_alive_ = false;
  head_queued_ = true;
  status_ = status;
  sse_ = config_.sse_keepalive.count() > 0 && starts_with_ci(content_type, "text/event-stream");
  enqueue({head(status, content_type, fields, std::nullopt, chunked_)});
  last_data_at_ = Clock::now();
  if (sse_) arm_keepalive_timer();
}

void Connection::stream_data(uint64_t seq, std::string framed, size_t counted) {
  if (seq != seq_ || phase_ != Phase::kResponding || !head_queued_ || response_queued_) {
    queued_bytes_.fetch_sub(counted);
    return;
  }
  last_data_at_ = Clock::now();
  enqueue({std::move(framed), counted});
}

void Connection::stream_end(uint64_t seq) {
  if (seq != seq_ || phase_ != Phase::kResponding || !head_queued_ || response_queued_) return;
  response_queued_ = true;
  enqueue({chunked_ ? std::string(kLastChunk) : std::string(), 0, true});
}

void Connection::abort(uint64_t seq, const char* why) {
  if (seq != seq_ || phase_ != Phase::kResponding) return;
  TESSERA_LOG_DEBUG("http: %s %s %s: closing: %s", remote_.c_str(), request_.method.c_str(), request_.path.c_str(),
                    why);
  close();
}

void Connection::answer_abandoned(uint64_t seq) {
  if (seq != seq_ || phase_ != Phase::kResponding || head_queued_) return;
  TESSERA_LOG_WARN("http: the handler of %s %s dropped its responder without answering", request_.method.c_str(),
                   request_.path.c_str());
  ErrorBody e = error_body(500, "the server dropped the request without answering");
  respond(seq, 500, std::move(e.content_type), {}, std::move(e.body), 0);
}

// ---- writing ----

std::string Connection::head(int status, std::string_view content_type, const HeaderList& fields,
                             std::optional<size_t> content_length, bool chunked) {
  std::string h;
  h.reserve(256);
  append_status_line(h, status);
  if (!content_type.empty()) append_field(h, "Content-Type", content_type);
  if (content_length) {
    if (status_has_body(status)) append_field(h, "Content-Length", std::to_string(*content_length));
  } else if (chunked) {
    append_field(h, "Transfer-Encoding", "chunked");
  }
  if (!keep_alive_) {
    append_field(h, "Connection", "close");
  } else if (request_.version < 11) {
    append_field(h, "Connection", "keep-alive");
  }
  if (!allow_origin_.empty()) {
    HeaderList cors;
    CorsPolicy::add_response_fields(allow_origin_, cors);
    for (const auto& [name, value] : cors) append_field(h, name, value);
  }
  for (const auto& [name, value] : fields) {
    if (is_framing_field(name) || !append_field(h, name, value)) {
      TESSERA_LOG_WARN("http: dropped response field '%s' (framing, or not a valid field)", name.c_str());
    }
  }
  h += "\r\n";
  return h;
}

void Connection::enqueue(OutItem item) {
  bytes_out_ += item.bytes.size();
  out_.push_back(std::move(item));
  if (num_writing_ == 0) write_next();
}

void Connection::write_next() {
  // Everything queued goes out in one gathering write: a fast producer costs one system call per batch.
  size_t n = 0;
  for (auto it = out_.begin(); it != out_.end() && n < gather_.size(); ++it, ++n) {
    std::string_view bytes = it->bytes;
    if (n == 0) bytes.remove_prefix(front_offset_);
    gather_[n] = asio::const_buffer(bytes.data(), bytes.size());
  }
  num_writing_ = n;
  last_progress_at_ = Clock::now();
  arm_write_timer();
  socket_.async_write_some(std::span<const asio::const_buffer>(gather_.data(), n),
                           [self = shared_from_this()](error_code ec, size_t written) { self->on_write(ec, written); });
}

void Connection::on_write(error_code ec, size_t n) {
  size_t released = 0;
  bool ended = false;
  for (size_t i = 0; i < num_writing_ && !out_.empty(); ++i) {
    OutItem& item = out_.front();
    const size_t remaining = item.bytes.size() - front_offset_;
    if (n < remaining) {
      front_offset_ += n;
      break;
    }
    n -= remaining;
    released += item.counted;
    ended = ended || item.ends_response;
    out_.pop_front();
    front_offset_ = 0;
  }
  num_writing_ = 0;
  if (released > 0) queued_bytes_.fetch_sub(released);
  if (phase_ == Phase::kClosed) {
    out_.clear();
    return;
  }
  if (ec) return close();  // the client went away (or stopped reading: the write timer closed the socket)
  last_progress_at_ = Clock::now();
  if (ended) finish_response();
  if (phase_ != Phase::kClosed && !out_.empty() && num_writing_ == 0) write_next();
}

void Connection::finish_response() {
  log_access("");
  link_.reset();
  request_ = Request{};
  if (!keep_alive_ || server_->stopping.load()) return linger_close();
  if (!read_in_flight_ && buffer_.size() == 0 && buffer_.capacity() > 4 * kReadChunkBytes) buffer_.shrink_to_fit();
  wait_for_request();
}

void Connection::linger_close() {
  phase_ = Phase::kLingering;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  if (server_->stopping.load()) return close();
  // Closing with unread bytes (a refused request's body) would make the kernel reset the connection, which can
  // destroy the response before the client reads it: drain for a while, then close.
  arm_read_timer(kLingerTime);
  if (!read_in_flight_) read_some();
}

void Connection::close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  read_timer_.cancel();
  write_timer_.cancel();
  keepalive_timer_.cancel();
  if (num_writing_ == 0) out_.clear();  // else on_write() clears it: the write still refers to the bytes
  server_->remove(this);
  if (link_) {
    log_access(" (closed before the response was complete)");
    std::exchange(link_, nullptr)->detach();  // an unfinished response's on_close fires here
  }
  request_ = Request{};
}

void Connection::log_access(const char* note) {
  if (log::level() > log::Level::kDebug) return;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started_at_).count();
  TESSERA_LOG_DEBUG("http: %s %s %s -> %d, %zu bytes, %.1f ms%s", remote_.c_str(), request_.method.c_str(),
                    request_.path.c_str(), status_, bytes_out_, ms, note);
}

// ---- timers ----

void Connection::arm_read_timer(std::chrono::milliseconds after) {
  if (after.count() <= 0) return disarm_read_timer();
  read_timer_.expires_after(after);
  read_timer_.async_wait([self = shared_from_this(), gen = ++read_timer_gen_](error_code ec) {
    if (!ec && gen == self->read_timer_gen_) self->on_read_timer();
  });
}

void Connection::disarm_read_timer() {
  ++read_timer_gen_;
  read_timer_.cancel();
}

void Connection::on_read_timer() {
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kLingering:
      return close();
    case Phase::kReading: {
      // The parser's read ends with operation_aborted and on_read_error() answers 408.
      timed_out_ = true;
      error_code ignored;
      socket_.cancel(ignored);
      return;
    }
    case Phase::kResponding:
    case Phase::kClosed:
      return;
  }
}

void Connection::arm_write_timer() {
  if (write_timer_armed_ || config_.write_timeout.count() <= 0) return;
  write_timer_armed_ = true;
  write_timer_.expires_at(last_progress_at_ + config_.write_timeout);
  write_timer_.async_wait([self = shared_from_this()](error_code) { self->on_write_timer(); });
}

void Connection::on_write_timer() {
  write_timer_armed_ = false;
  if (phase_ == Phase::kClosed || num_writing_ == 0) return;
  if (Clock::now() - last_progress_at_ >= config_.write_timeout) {
    TESSERA_LOG_DEBUG("http: %s accepted no bytes for %lld ms: closing", remote_.c_str(),
                      static_cast<long long>(config_.write_timeout.count()));
    return close();
  }
  arm_write_timer();
}

void Connection::arm_keepalive_timer() {
  if (keepalive_timer_armed_) return;
  keepalive_timer_armed_ = true;
  keepalive_timer_.expires_at(last_data_at_ + config_.sse_keepalive);
  keepalive_timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_keepalive_timer(ec); });
}

void Connection::on_keepalive_timer(error_code ec) {
  keepalive_timer_armed_ = false;
  if (phase_ != Phase::kResponding || !sse_ || response_queued_) return;
  if (!ec && Clock::now() - last_data_at_ >= config_.sse_keepalive) {
    // An SSE comment: clients ignore it, and proxies and load balancers see a live connection during a long prefill.
    enqueue({chunked_ ? frame_chunk(kSseKeepAlive) : std::string(kSseKeepAlive)});
    last_data_at_ = Clock::now();
  }
  arm_keepalive_timer();
}

}  // namespace tessera::server::http
