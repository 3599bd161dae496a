// HttpServer over real sockets on 127.0.0.1: routing, errors and limits, keep-alive, timeouts, CORS. Deadlines for
// what must happen are seconds long, so a loaded machine does not make these flaky.
#include "tessera/server/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "http_test_client.h"
#include "tessera/util/log.h"

namespace tessera::server::http {
namespace {

using testing::TestClient;
using testing::TestResponse;
using namespace std::chrono_literals;

std::unique_ptr<HttpServer> start_server(HttpServerConfig config, const std::function<void(HttpServer&)>& setup) {
  auto server = std::make_unique<HttpServer>(std::move(config));
  setup(*server);
  Status s = server->start();
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_NE(server->port(), 0);
  return server;
}

void add_echo_routes(HttpServer& server) {
  server.route("GET", "/hello", [](const Request&, std::shared_ptr<Responder> r) {
    r->send(200, "text/plain", "hi", {{"X-Test", "1"}});
  });
  server.route("POST", "/echo",
               [](const Request& req, std::shared_ptr<Responder> r) { r->send(200, "text/plain", req.body, {}); });
}

ErrorBody test_error_body(int status, std::string_view message, const Request& request) {
  return {"text/plain", "E" + std::to_string(status) + "|" + std::string(message) + "|" + request.path};
}

TEST(HttpServer, RoutesExactMethodAndPath) {
  auto server = start_server({}, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.connected());

  ASSERT_TRUE(c.send_request("GET", "/hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hi");
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_EQ(r->header("x-test"), "1");

  ASSERT_TRUE(c.send_request("GET", "/nope"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"error":{"message":"no route for GET /nope"}})");

  ASSERT_TRUE(c.send_request("GET", "/echo"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "POST");

  // A query string is not part of the path.
  ASSERT_TRUE(c.send_request("GET", "/hello?x=1"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, HandlerSeesTheWholeRequest) {
  Request seen;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("POST", "/v1/things", [&](const Request& req, std::shared_ptr<Responder> r) {
      seen = req;
      r->send(201, "application/json", "{}", {});
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("POST", "/v1/things?limit=3&x", "payload", {{"X-Api-Key", "k1"}, {"X-Multi", "a"}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/v1/things");
  EXPECT_EQ(seen.query, "limit=3&x");
  EXPECT_EQ(seen.body, "payload");
  EXPECT_EQ(seen.header("x-api-key"), "k1");
  EXPECT_EQ(seen.header("X-API-KEY"), "k1");
  EXPECT_TRUE(seen.has_header("host"));
  EXPECT_FALSE(seen.has_header("authorization"));
  EXPECT_EQ(seen.header("authorization"), "");
  EXPECT_EQ(seen.version, 11);
  EXPECT_EQ(seen.remote_address.rfind("127.0.0.1:", 0), 0u) << seen.remote_address;
}

TEST(HttpServer, ErrorHandlerShapesTheServersOwnErrors) {
  HttpServerConfig config;
  config.max_body_bytes = 1024;
  auto server = start_server(config, [](HttpServer& s) {
    add_echo_routes(s);
    s.set_error_handler(test_error_body);
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/missing"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_EQ(r->body, "E404|no route for GET /missing|/missing");

  ASSERT_TRUE(c.send_request("DELETE", "/hello"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->body, "E405|method DELETE is not allowed for /hello|/hello");
}

TEST(HttpServer, BodyOverTheLimitGets413AndTheConnectionCloses) {
  HttpServerConfig config;
  config.max_body_bytes = 1024;
  auto server = start_server(config, [](HttpServer& s) {
    add_echo_routes(s);
    s.set_error_handler(test_error_body);
  });
  {  // Known from Content-Length: refused before the body is read.
    TestClient c(server->port());
    ASSERT_TRUE(c.send_request("POST", "/echo", std::string(5000, 'x')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, "E413|request body is larger than 1024 bytes|/echo");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.wait_closed());
  }
  {  // Chunked: found while reading.
    TestClient c(server->port());
    std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) req += "200\r\n" + std::string(512, 'y') + "\r\n";
    req += "0\r\n\r\n";
    ASSERT_TRUE(c.send(req));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.wait_closed());
  }
  {  // A chunked body under the limit arrives de-chunked.
    TestClient c(server->port());
    ASSERT_TRUE(
        c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "abcde");
  }
  {  // At the limit: fine.
    TestClient c(server->port());
    ASSERT_TRUE(c.send_request("POST", "/echo", std::string(1024, 'z')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), 1024u);
  }
}

TEST(HttpServer, HeaderOverTheLimitGets431) {
  HttpServerConfig config;
  config.max_header_bytes = 2048;
  auto server = start_server(config, [](HttpServer& s) {
    add_echo_routes(s);
    s.set_error_handler(test_error_body);
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/hello", "", {{"X-Big", std::string(4096, 'a')}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->body.rfind("E431|request header is larger than 2048 bytes", 0), 0u) << r->body;
  EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, MalformedRequestGets400AndTheConnectionCloses) {
  auto server = start_server({}, add_echo_routes);
  for (std::string bad : {"GET /hello HTTP/1.1\r\nNo colon here\r\n\r\n", "GET /hello HTTP/7.1\r\n\r\n",
                          "POST /echo HTTP/1.1\r\nContent-Length: banana\r\n\r\n"}) {
    TestClient c(server->port());
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_NE(r->body.find("malformed HTTP request"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed()) << bad;
  }
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  auto server = start_server({}, [&](HttpServer& s) {
    add_echo_routes(s);
    s.route("GET", "/count", [&](const Request&, std::shared_ptr<Responder> r) {
      r->send(200, "text/plain", std::to_string(++calls), {});
    });
  });
  TestClient c(server->port());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(c.send_request("GET", "/count"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, std::to_string(i));
    EXPECT_FALSE(r->has_header("connection"));
  }
  // Pipelined: three requests in one write are answered in order.
  std::string three;
  for (const char* body : {"one", "two", "three"}) {
    three += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(strlen(body)) + "\r\n\r\n" + body;
  }
  ASSERT_TRUE(c.send(three));
  for (const char* body : {"one", "two", "three"}) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, body);
  }
  EXPECT_EQ(server->num_connections(), 1u);
  // Connection: close is honoured.
  ASSERT_TRUE(c.send_request("GET", "/hello", "", {{"Connection", "close"}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, Http10GetsAResponseAndAClose) {
  auto server = start_server({}, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hi");
  EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, Expect100ContinueIsAnswered) {
  auto server = start_server({}, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = c.read_head(TestClient::Clock::now() + 10s);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  HttpServerConfig config;
  config.idle_timeout = 200ms;
  auto server = start_server(config, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/hello"));
  ASSERT_TRUE(c.read_response());
  const auto t0 = TestClient::Clock::now();
  EXPECT_TRUE(c.wait_closed(10s));
  EXPECT_GE(TestClient::Clock::now() - t0, 100ms);  // loosely: not at once
}

TEST(HttpServer, SlowRequestGets408) {
  HttpServerConfig config;
  config.request_timeout = 200ms;
  auto server = start_server(config, [](HttpServer& s) {
    add_echo_routes(s);
    s.set_error_handler(test_error_body);
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->body, "E408|request not received within 200 ms|/echo");
  EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, HandlerMayAnswerLaterFromAnotherThread) {
  std::vector<std::thread> threads;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/later", [&](const Request& req, std::shared_ptr<Responder> r) {
      threads.emplace_back([r, path = req.path] {
        std::this_thread::sleep_for(20ms);
        r->send(200, "text/plain", "later " + path, {});
      });
    });
  });
  TestClient c(server->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send_request("GET", "/later"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "later /later");
  }
  for (auto& t : threads) t.join();
}

TEST(HttpServer, HandlerThatThrowsOrDropsItsResponderGets500) {
  auto server = start_server({}, [](HttpServer& s) {
    s.route("GET", "/throws", [](const Request&, std::shared_ptr<Responder>) { throw std::runtime_error("boom"); });
    s.route("GET", "/drops", [](const Request&, std::shared_ptr<Responder>) {});
    s.route("GET", "/ok", [](const Request&, std::shared_ptr<Responder> r) { r->send(200, "text/plain", "ok", {}); });
  });
  TestClient c(server->port());
  for (const char* path : {"/throws", "/drops"}) {
    ASSERT_TRUE(c.send_request("GET", path));
    auto r = c.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 500) << path;
  }
  // The connection is still good.
  ASSERT_TRUE(c.send_request("GET", "/ok"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok");
}

TEST(HttpServer, ResponderRefusesCallsOutOfOrder) {
  std::shared_ptr<Responder> kept;
  auto server = start_server({}, [&](HttpServer& s) {
    s.route("GET", "/x", [&](const Request&, std::shared_ptr<Responder> r) {
      EXPECT_FALSE(r->write("too early"));
      EXPECT_FALSE(r->end());
      EXPECT_TRUE(r->send(200, "text/plain", "once", {}));
      EXPECT_FALSE(r->send(200, "text/plain", "twice", {}));
      EXPECT_FALSE(r->start_stream(200, "text/plain", {}));
      kept = r;
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/x"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "once");
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->is_closed());
}

TEST(HttpServer, FieldsThatWouldBreakFramingAreDropped) {
  auto server = start_server({}, [](HttpServer& s) {
    s.route("GET", "/x", [](const Request&, std::shared_ptr<Responder> r) {
      r->send(200, "text/plain", "abc",
              {{"Content-Length", "999"}, {"X-Evil", "a\r\nSet-Cookie: b"}, {"Bad Name", "v"}, {"X-Ok", "fine"}});
    });
  });
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("GET", "/x"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-length"), "3");
  EXPECT_EQ(r->body, "abc");
  EXPECT_FALSE(r->has_header("x-evil"));
  EXPECT_FALSE(r->has_header("set-cookie"));
  EXPECT_EQ(r->header("x-ok"), "fine");
}

TEST(HttpServer, AccessLogLineAtDebugLevel) {
  auto server = start_server({}, add_echo_routes);
  const log::Level saved = log::level();
  log::set_level(log::Level::kDebug);
  ::testing::internal::CaptureStderr();
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send_request("GET", "/hello"));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.send_request("GET", "/nope"));
    ASSERT_TRUE(c.read_response());
  }
  server->shutdown(1s);
  const std::string err = ::testing::internal::GetCapturedStderr();
  log::set_level(saved);
  EXPECT_NE(err.find("GET /hello -> 200, "), std::string::npos) << err;
  EXPECT_NE(err.find("GET /nope -> 404, "), std::string::npos) << err;
}

TEST(HttpServer, PortInUseIsAClearError) {
  auto first = start_server({}, add_echo_routes);
  HttpServerConfig config;
  config.port = first->port();
  HttpServer second(config);
  Status s = second.start();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.to_string().find("cannot listen on 127.0.0.1:" + std::to_string(first->port())), std::string::npos)
      << s.to_string();
  EXPECT_NE(s.to_string().find("in use"), std::string::npos) << s.to_string();
}

TEST(HttpServer, BadHostIsAnError) {
  HttpServerConfig config;
  config.host = "no-such-host.invalid";
  HttpServer server(config);
  EXPECT_FALSE(server.start().ok());
}

TEST(HttpServer, CorsIsOffUnlessConfigured) {
  auto server = start_server({}, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("OPTIONS", "/echo", "",
                             {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_FALSE(r->has_header("access-control-allow-origin"));
  ASSERT_TRUE(c.send_request("GET", "/hello", "", {{"Origin", "https://app.example"}}));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->has_header("access-control-allow-origin"));
}

TEST(HttpServer, CorsPreflightAndResponseFieldsWhenConfigured) {
  HttpServerConfig config;
  config.cors_allowed_origins = {"https://app.example"};
  auto server = start_server(config, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("OPTIONS", "/echo", "",
                             {{"Origin", "https://app.example"},
                              {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "content-type, authorization"}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(r->header("access-control-allow-methods"), "POST");
  EXPECT_EQ(r->header("access-control-allow-headers"), "content-type, authorization");
  EXPECT_EQ(r->header("vary"), "Origin");
  EXPECT_FALSE(r->has_header("content-length"));

  ASSERT_TRUE(c.send_request("POST", "/echo", "x", {{"Origin", "https://app.example"}}));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("access-control-allow-origin"), "https://app.example");

  // Another origin gets no CORS fields, and its preflight is refused.
  ASSERT_TRUE(c.send_request("POST", "/echo", "x", {{"Origin", "https://evil.example"}}));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("access-control-allow-origin"));
  ASSERT_TRUE(c.send_request("OPTIONS", "/echo", "",
                             {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_FALSE(r->has_header("access-control-allow-origin"));
}

TEST(HttpServer, CorsWildcardAllowsAnyOrigin) {
  HttpServerConfig config;
  config.cors_allowed_origins = {"*"};
  auto server = start_server(config, add_echo_routes);
  TestClient c(server->port());
  ASSERT_TRUE(c.send_request("OPTIONS", "/anything", "",
                             {{"Origin", "http://localhost:3000"}, {"Access-Control-Request-Method", "PUT"}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("access-control-allow-origin"), "*");
  EXPECT_EQ(r->header("access-control-allow-methods"), "PUT");
  EXPECT_FALSE(r->has_header("vary"));
  ASSERT_TRUE(c.send_request("GET", "/nope", "", {{"Origin", "http://localhost:3000"}}));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);  // errors carry the field too, so a browser can read them
  EXPECT_EQ(r->header("access-control-allow-origin"), "*");
}

}  // namespace
}  // namespace tessera::server::http
