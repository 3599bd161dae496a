// Connection: one client socket. Reads a request, dispatches it, writes the response, and only then reads the next
// (pipelined requests wait in the read buffer). While a response is under way it keeps a read pending, so a client
// that goes away is noticed at once, not at the next write.
//
// Threading: each Connection has a strand. Its methods run on that strand, except those marked "any thread",
// which post onto it. ConnectionResponder (connection_responder.h) is how other threads reach it.
//
// Internal to server/http: API code sees Request and Responder only.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/server/http/cors.h"
#include "tessera/server/http/http_server.h"
#include "tessera/server/http/router.h"

namespace tessera::server::http {

class Connection;
class ConnectionResponder;
struct ResponseLink;

// What every connection shares with its server. The config, router, error handler and CORS policy are constant
// once the server has started.
struct ServerContext {
  explicit ServerContext(HttpServerConfig c) : config(std::move(c)), cors(config.cors_allowed_origins) {}

  HttpServerConfig config;
  Router router;
  ErrorHandler error_handler;  // never empty
  CorsPolicy cors;
  std::atomic<bool> stopping{false};

  // The open connections, so shutdown can reach them. Any thread.
  void add(const std::shared_ptr<Connection>& connection);
  void remove(const Connection* connection);
  std::vector<std::shared_ptr<Connection>> snapshot() const;
  size_t size() const;
  // Returns whether every connection closed before `deadline`.
  bool wait_until_empty(std::chrono::steady_clock::time_point deadline) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable empty_;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections_;  // guarded by mu_
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using tcp = boost::asio::ip::tcp;
  using Clock = std::chrono::steady_clock;

  // `socket` is connected and its executor is a strand of its own.
  Connection(tcp::socket socket, std::shared_ptr<ServerContext> server);

  // Any thread: begins reading requests.
  void start();
  // Any thread: closes the connection if no response is under way, else closes it once the response is done.
  void begin_shutdown();
  // Any thread: closes now; an unfinished response's on_close fires.
  void force_close();

  // Any thread (for ConnectionResponder): the strand, and the bytes responders have queued and not yet written.
  const boost::asio::any_io_executor& strand() const { return strand_; }
  std::atomic<size_t>& queued_bytes() { return queued_bytes_; }

  // Posted by ConnectionResponder. `seq` names the response; calls for an earlier one are ignored. `counted` is
  // what the responder added to queued_bytes() for these bytes.
  void respond(uint64_t seq, int status, std::string content_type, HeaderList fields, std::string body, size_t counted);
  void stream_start(uint64_t seq, int status, std::string content_type, HeaderList fields);
  void stream_data(uint64_t seq, std::string framed, size_t counted);
  void stream_end(uint64_t seq);
  // The responder gave up on the response: overflow (too many queued bytes) or dropped mid-stream. Closes.
  void abort(uint64_t seq, const char* why);
  // The responder was dropped before answering: 500.
  void answer_abandoned(uint64_t seq);

 private:
  enum class Phase {
    kIdle,        // waiting for the first byte of a request
    kReading,     // the parser reads a request
    kResponding,  // a handler owns the response; a read stays pending to notice the client leaving
    kLingering,   // sent a final response and FIN; draining what the client still sends, then closing
    kClosed,
  };
  struct OutItem {
    std::string bytes;
    size_t counted = 0;          // share of queued_bytes_ to release once written
    bool ends_response = false;  // the response is complete once this is written
  };

  // Reading requests.
  void wait_for_request();
  void read_some();
  void on_read_some(boost::system::error_code ec, size_t n);
  void read_request();
  void on_header(boost::system::error_code ec);
  void on_body(boost::system::error_code ec);
  void on_read_error(boost::system::error_code ec);
  void dispatch();
  void route(const std::shared_ptr<ConnectionResponder>& responder);
  // Sets up response bookkeeping for the request in parser_ (or an empty request when its header is not parsed).
  void begin_response();
  // An error found while reading the request: an error response, then the connection closes.
  void fail(int status, std::string message);
  ErrorBody error_body(int status, std::string_view message);

  // Writing.
  std::string head(int status, std::string_view content_type, const HeaderList& fields,
                   std::optional<size_t> content_length, bool chunked);
  void enqueue(OutItem item);
  void write_next();
  void on_write(boost::system::error_code ec, size_t n);
  void finish_response();
  void linger_close();
  void close();
  void log_access(const char* outcome);

  // Timers: each is armed lazily and re-checks the state when it fires, so nothing cancels them per byte.
  void arm_read_timer(std::chrono::milliseconds after);
  void disarm_read_timer();
  void on_read_timer();
  void arm_write_timer();
  void on_write_timer();
  void arm_keepalive_timer();
  void on_keepalive_timer(boost::system::error_code ec);

  // Constant after construction.
  tcp::socket socket_;
  const boost::asio::any_io_executor strand_;
  const std::shared_ptr<ServerContext> server_;
  const HttpServerConfig& config_;
  std::string remote_;

  // Strand only.
  Phase phase_ = Phase::kIdle;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool read_in_flight_ = false;  // read_some()'s read, not the parser's
  bool timed_out_ = false;       // the request timer cancelled the parser's read

  boost::asio::steady_timer read_timer_;  // idle, request and linger deadlines
  uint64_t read_timer_gen_ = 0;           // a firing whose generation is stale is ignored
  boost::asio::steady_timer write_timer_;
  bool write_timer_armed_ = false;
  boost::asio::steady_timer keepalive_timer_;
  bool keepalive_timer_armed_ = false;

  // The response under way (or last finished).
  uint64_t seq_ = 0;
  Request request_;
  std::shared_ptr<ResponseLink> link_;  // shared with the response's ConnectionResponder; null between responses
  bool keep_alive_ = false;
  bool chunked_ = true;           // HTTP/1.1: streams are chunked; HTTP/1.0: raw, ended by closing
  bool head_queued_ = false;      // status line and fields are queued
  bool response_queued_ = false;  // every byte of the response is queued
  bool sse_ = false;              // a text/event-stream stream: gets keep-alive comments
  std::string allow_origin_;      // CORS: the Access-Control-Allow-Origin value, "" for none
  int status_ = 0;
  size_t bytes_out_ = 0;
  Clock::time_point started_at_;
  Clock::time_point last_data_at_;  // the stream's last data, for keep-alive comments

  std::deque<OutItem> out_;
  size_t front_offset_ = 0;  // bytes of out_.front() already written
  size_t num_writing_ = 0;   // items of out_ in the write under way; 0 when none is
  Clock::time_point last_progress_at_;
  std::array<boost::asio::const_buffer, 32> gather_;  // the buffers of the write under way

  // Any thread: bytes responders queued that are not yet written.
  std::atomic<size_t> queued_bytes_{0};
};

}  // namespace tessera::server::http
