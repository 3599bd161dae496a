// Streamed responses over real sockets: order, disconnects and on_close, SSE keep-alive comments, slow clients,
// hundreds of concurrent streams on two I/O threads, and graceful shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_test_client.h"
#include "tessera/server/http/http_server.h"

namespace tessera::server::http {
namespace {

using testing::TestClient;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Responders handed over by handlers, for the test's own threads to answer.
class Inbox {
 public:
  void put(std::shared_ptr<Responder> r) {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(r));
    cv_.notify_all();
  }
  // Waits (up to `timeout`) for `n` responders in all.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return items_.size() >= n; });
  }
  std::shared_ptr<Responder> at(size_t i) {
    std::lock_guard lock(mu_);
    return items_.at(i);
  }
  std::vector<std::shared_ptr<Responder>> all() {
    std::lock_guard lock(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Responder>> items_;
};

// A flag another thread sets, with a wait that has a deadline.
class Event {
 public:
  void set() {
    std::lock_guard lock(mu_);
    set_ = true;
    at_ = Clock::now();
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }
  bool is_set() {
    std::lock_guard lock(mu_);
    return set_;
  }
  Clock::time_point at() {
    std::lock_guard lock(mu_);
    return at_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
  Clock::time_point at_;
};

std::unique_ptr<HttpServer> start_server(HttpServerConfig config, const std::function<void(HttpServer&)>& setup) {
  auto server = std::make_unique<HttpServer>(std::move(config));
  setup(*server);
  Status s = server->start();
  EXPECT_TRUE(s.ok()) << s.to_string();
  return server;
}

// Routes GET /stream to a handler that starts a stream and leaves the responder in `inbox`.
void add_stream_route(HttpServer& server, Inbox& inbox, std::string content_type = "text/plain") {
  server.route("GET", "/stream", [&inbox, content_type](const Request&, std::shared_ptr<Responder> r) {
    r->start_stream(200, content_type, {{"Cache-Control", "no-cache"}});
    inbox.put(std::move(r));
  });
}

TEST(HttpStreaming, HundredPiecesFromAnotherThreadArriveInOrder) {
  std::vector<std::thread> producers;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
      producers.emplace_back([r] {
        ASSERT_TRUE(r->start_stream(200, "text/event-stream", {}));
        for (int i = 0; i < 100; ++i) ASSERT_TRUE(r->write("data: " + std::to_string(i) + "\n\n"));
        ASSERT_TRUE(r->end());
      });
    });
    s.route("GET", "/after",
            [](const Request&, std::shared_ptr<Responder> r) { r->send(200, "text/plain", "after", {}); });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "data: " + std::to_string(i) + "\n\n";
  EXPECT_EQ(r->body, expected);
  // The connection stays usable after a chunked stream.
  ASSERT_TRUE(c.send_request("GET", "/after"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "after");
  for (auto& t : producers) t.join();
}

// Bodies far larger than the socket buffers go out in many partial writes; every byte must arrive once, in order.
TEST(HttpStreaming, LargeBodiesSurvivePartialWrites) {
  auto pattern = [](size_t n, int salt) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251 + salt) % 26);
    return s;
  };
  std::vector<std::thread> producers;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/whole", [&](const Request&, std::shared_ptr<Responder> r) {
      r->send(200, "application/octet-stream", pattern(5 << 20, 1), {});
    });
    s.route("GET", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
      producers.emplace_back([r, &pattern] {
        r->start_stream(200, "application/octet-stream", {});
        for (int i = 0; i < 48; ++i) ASSERT_TRUE(r->write(pattern(64 << 10, i)));
        r->end();
      });
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/whole"));
  auto r = c.read_response(30s);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->body == pattern(5 << 20, 1));
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  r = c.read_response(30s);
  ASSERT_TRUE(r);
  std::string expected;
  for (int i = 0; i < 48; ++i) expected += pattern(64 << 10, i);
  EXPECT_EQ(r->body.size(), expected.size());
  EXPECT_TRUE(r->body == expected);
  for (auto& t : producers) t.join();
}

TEST(HttpStreaming, ClientDisconnectFiresOnCloseAtOnce) {
  Inbox inbox;
  Event closed;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { closed.set(); });
      r->start_stream(200, "text/event-stream", {});
      r->write("data: first\n\n");
      inbox.put(std::move(r));
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  ASSERT_TRUE(c.read_head(Clock::now() + 10s));
  ASSERT_EQ(c.read_chunk(), "data: first\n\n");
  ASSERT_TRUE(inbox.wait_for(1));
  EXPECT_FALSE(inbox.at(0)->is_closed());

  const auto t0 = Clock::now();
  c.close();
  // Nothing is written after the disconnect: the pending read alone must notice it. Typically well under 100 ms;
  // the deadline is generous for a loaded machine.
  ASSERT_TRUE(closed.wait(5s));
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(closed.at() - t0);
  EXPECT_LT(latency, 2s) << latency.count() << " ms";
  std::printf("on_close fired %lld ms after the client closed\n", static_cast<long long>(latency.count()));

  auto r = inbox.at(0);
  EXPECT_TRUE(r->is_closed());
  EXPECT_FALSE(r->write("data: late\n\n"));
  EXPECT_FALSE(r->end());
  // A callback registered after the close runs at once.
  bool ran = false;
  r->on_close([&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(server->num_connections(), 0u);
}

TEST(HttpStreaming, OnCloseDoesNotFireForACompleteResponse) {
  std::atomic<int> fired{0};
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/x", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { ++fired; });
      r->send(200, "text/plain", "done", {});
    });
  });
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send_request("GET", "/x"));
    ASSERT_TRUE(c.read_response());
  }
  // The client has gone; give the server time to notice, then check nothing fired.
  for (int i = 0; i < 200 && server->num_connections() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server->num_connections(), 0u);
  EXPECT_EQ(fired.load(), 0);
}

TEST(HttpStreaming, DisconnectBeforeAnyAnswerFiresOnClose) {
  Inbox inbox;
  Event closed;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("POST", "/slow", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { closed.set(); });
      inbox.put(std::move(r));  // e.g. a long prefill, nothing sent yet
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("POST", "/slow", "{}"));
  ASSERT_TRUE(inbox.wait_for(1));
  c.close();
  EXPECT_TRUE(closed.wait(5s));
  EXPECT_FALSE(inbox.at(0)->send(200, "text/plain", "too late", {}));
}

TEST(HttpStreaming, SseKeepAliveCommentAfterSilence) {
  HttpServerConfig config;
  config.sse_keepalive = 50ms;
  Inbox sse, plain;
  auto server = start_server(config, [&](HttpServer& s) {
    add_stream_route(s, sse, "text/event-stream");
    s.route("GET", "/plain", [&](const Request&, std::shared_ptr<Responder> r) {
      r->start_stream(200, "application/octet-stream", {});
      plain.put(std::move(r));
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  ASSERT_TRUE(c.read_head(Clock::now() + 10s));
  EXPECT_EQ(c.read_chunk(5s), ": keep-alive\n\n");
  EXPECT_EQ(c.read_chunk(5s), ": keep-alive\n\n");  // and again while the silence lasts
  ASSERT_TRUE(sse.wait_for(1));
  ASSERT_TRUE(sse.at(0)->write("data: x\n\n"));
  ASSERT_TRUE(sse.at(0)->end());
  // Data and comments interleave only at chunk boundaries; the data must arrive, then the end.
  for (;;) {
    auto chunk = c.read_chunk(5s);
    ASSERT_TRUE(chunk);
    if (*chunk == ": keep-alive\n\n") continue;
    EXPECT_EQ(*chunk, "data: x\n\n");
    break;
  }
  EXPECT_EQ(c.read_chunk(5s), "");

  // A stream that is not SSE gets no comments.
  ASSERT_TRUE(c.send_request("GET", "/plain"));
  ASSERT_TRUE(c.read_head(Clock::now() + 10s));
  ASSERT_TRUE(plain.wait_for(1));
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(plain.at(0)->write("bytes"));
  EXPECT_EQ(c.read_chunk(5s), "bytes");
  ASSERT_TRUE(plain.at(0)->end());
  EXPECT_EQ(c.read_chunk(5s), "");
}

TEST(HttpStreaming, ClientThatStopsReadingIsDroppedAndOnCloseFires) {
  HttpServerConfig config;
  config.max_queued_bytes = 256 << 10;
  Inbox inbox;
  Event closed;
  auto server = start_server(config, [&](HttpServer& s) {
    s.route("GET", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { closed.set(); });
      r->start_stream(200, "application/octet-stream", {});
      inbox.put(std::move(r));
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  ASSERT_TRUE(inbox.wait_for(1));
  // The client never reads. Socket buffers take a few MiB; then the queue passes its bound and writes are refused.
  auto r = inbox.at(0);
  const std::string piece(64 << 10, 'x');
  int accepted = 0;
  for (int i = 0; i < 4096 && r->write(piece); ++i) ++accepted;
  EXPECT_LT(accepted, 4096);
  EXPECT_TRUE(r->is_closed());
  EXPECT_TRUE(closed.wait(5s));
  EXPECT_FALSE(r->write(piece));
}

TEST(HttpStreaming, StalledClientIsDroppedAfterTheWriteTimeout) {
  HttpServerConfig config;
  config.write_timeout = 200ms;
  config.max_queued_bytes = 64 << 20;  // large: the write timeout must be what acts
  Inbox inbox;
  Event closed;
  auto server = start_server(config, [&](HttpServer& s) {
    s.route("GET", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { closed.set(); });
      r->start_stream(200, "application/octet-stream", {});
      inbox.put(std::move(r));
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  ASSERT_TRUE(inbox.wait_for(1));
  // More than loopback socket buffers hold, then silence: the server's write stalls and nothing else happens.
  const std::string piece(64 << 10, 'x');
  for (int i = 0; i < 512 && inbox.at(0)->write(piece); ++i) {
  }
  EXPECT_TRUE(closed.wait(10s));
  EXPECT_TRUE(inbox.at(0)->is_closed());
}

TEST(HttpStreaming, ThreeHundredConcurrentStreamsOnTwoIoThreads) {
  constexpr int kClients = 300;
  constexpr int kPieces = 20;
  HttpServerConfig config;
  config.num_io_threads = 2;
  Inbox inbox;
  auto server = start_server(config, [&](HttpServer& s) { add_stream_route(s, inbox); });

  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(clients.back()->connected()) << i;
    ASSERT_TRUE(clients.back()->send_request("GET", "/stream"));
  }
  // Every stream is open at once before any data flows.
  ASSERT_TRUE(inbox.wait_for(kClients)) << "handlers reached: " << inbox.all().size();
  EXPECT_EQ(server->num_connections(), static_cast<size_t>(kClients));

  auto streams = inbox.all();
  std::thread producer([&] {
    for (int p = 0; p < kPieces; ++p) {
      for (size_t i = 0; i < streams.size(); ++i) streams[i]->write(std::to_string(i) + ":" + std::to_string(p) + ";");
    }
    for (auto& s : streams) s->end();
  });
  producer.join();

  // Which client got which stream is up to the accept order: check each body is one stream's pieces, in order.
  std::vector<bool> seen(kClients, false);
  for (int i = 0; i < kClients; ++i) {
    auto r = clients[i]->read_response(20s);
    ASSERT_TRUE(r) << "client " << i;
    const size_t colon = r->body.find(':');
    ASSERT_NE(colon, std::string::npos) << r->body;
    const int id = std::stoi(r->body.substr(0, colon));
    ASSERT_TRUE(id >= 0 && id < kClients);
    EXPECT_FALSE(seen[id]);
    seen[id] = true;
    std::string expected;
    for (int p = 0; p < kPieces; ++p) expected += std::to_string(id) + ":" + std::to_string(p) + ";";
    EXPECT_EQ(r->body, expected);
  }
}

TEST(HttpStreaming, ShutdownLetsAFinishingStreamCompleteAndClosesAStalledOne) {
  Event go, stalled_closed, finishing_closed;
  std::thread writer;
  Inbox stalled;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/finishing", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { finishing_closed.set(); });
      r->start_stream(200, "text/plain", {});
      r->write("0;");
      writer = std::thread([r, &go] {
        go.wait();
        for (int i = 1; i < 10; ++i) {
          std::this_thread::sleep_for(10ms);
          EXPECT_TRUE(r->write(std::to_string(i) + ";"));
        }
        EXPECT_TRUE(r->end());
      });
    });
    s.route("GET", "/stalled", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { stalled_closed.set(); });
      r->start_stream(200, "text/plain", {});
      r->write("s;");
      stalled.put(std::move(r));
    });
  });
  const uint16_t port = server->port();
  TestClient a(port), b(port), idle(port);
  ASSERT_TRUE(a.send_request("GET", "/finishing"));
  ASSERT_TRUE(b.send_request("GET", "/stalled"));
  ASSERT_TRUE(a.read_head(Clock::now() + 10s));
  ASSERT_EQ(a.read_chunk(), "0;");
  ASSERT_TRUE(b.read_head(Clock::now() + 10s));
  ASSERT_EQ(b.read_chunk(), "s;");
  ASSERT_TRUE(stalled.wait_for(1));

  std::thread stopper([&] { server->shutdown(2s); });
  go.set();
  // The idle connection is closed at once; the finishing stream completes within the grace period.
  EXPECT_TRUE(idle.wait_closed(10s));
  std::string body;
  for (;;) {
    auto chunk = a.read_chunk(10s);
    ASSERT_TRUE(chunk);
    if (chunk->empty()) break;
    body += *chunk;
  }
  EXPECT_EQ(body, "1;2;3;4;5;6;7;8;9;");
  EXPECT_TRUE(a.wait_closed(10s));
  // The stalled one is closed when the grace runs out, and its on_close fires.
  EXPECT_TRUE(stalled_closed.wait(10s));
  EXPECT_TRUE(b.wait_closed(10s));
  EXPECT_EQ(b.buffer().find("0\r\n\r\n"), std::string::npos);  // cut off, not ended
  stopper.join();
  writer.join();
  EXPECT_FALSE(finishing_closed.is_set());
  EXPECT_EQ(server->num_connections(), 0u);

  // Nothing accepts any more, a second shutdown is harmless, and a kept responder reaches nothing.
  TestClient late(port);
  EXPECT_FALSE(late.connected() && late.send_request("GET", "/finishing") && late.read_response(2s));
  server->shutdown(1s);
  EXPECT_FALSE(stalled.at(0)->write("x"));
  auto kept = stalled.at(0);
  server.reset();
  EXPECT_FALSE(kept->write("after the server is gone"));
  EXPECT_TRUE(kept->is_closed());
}

TEST(HttpStreaming, DestructorClosesOpenStreams) {
  Inbox inbox;
  Event closed;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
      r->on_close([&] { closed.set(); });
      r->start_stream(200, "text/plain", {});
      inbox.put(std::move(r));
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/stream"));
  ASSERT_TRUE(inbox.wait_for(1));
  server.reset();
  EXPECT_TRUE(closed.wait(1s));
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_FALSE(inbox.at(0)->write("x"));
}

TEST(HttpStreaming, ServerThatNeverStartedShutsDownQuietly) {
  HttpServer server({});
  server.shutdown(1s);
  server.shutdown(1s);
}

}  // namespace
}  // namespace tessera::server::http
