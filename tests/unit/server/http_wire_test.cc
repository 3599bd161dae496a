// The pieces under the server that need no socket: framing, field checks, routing, CORS decisions.
#include <gtest/gtest.h>

#include "tessera/server/http/cors.h"
#include "tessera/server/http/router.h"
#include "tessera/server/http/wire.h"

namespace tessera::server::http {
namespace {

TEST(HttpWire, ChunkFraming) {
  EXPECT_EQ(frame_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(frame_chunk(std::string(300, 'a')).substr(0, 5), "12c\r\n");
}

TEST(HttpWire, FieldsCannotInjectLines) {
  std::string out;
  EXPECT_TRUE(append_field(out, "X-Ok", "value with spaces; and=signs"));
  EXPECT_FALSE(append_field(out, "X-Bad", "a\r\nSet-Cookie: x"));
  EXPECT_FALSE(append_field(out, "X-Bad", std::string("a\0b", 3)));
  EXPECT_FALSE(append_field(out, "Bad Name", "v"));
  EXPECT_FALSE(append_field(out, "Bad:Name", "v"));
  EXPECT_FALSE(append_field(out, "", "v"));
  EXPECT_EQ(out, "X-Ok: value with spaces; and=signs\r\n");
  EXPECT_TRUE(is_framing_field("content-LENGTH"));
  EXPECT_TRUE(is_framing_field("Transfer-Encoding"));
  EXPECT_FALSE(is_framing_field("Content-Type"));
}

TEST(HttpWire, StatusLines) {
  std::string out;
  append_status_line(out, 404);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\n");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(590), "Unknown");
  EXPECT_EQ(reason_phrase(-1), "Unknown");
  EXPECT_FALSE(status_has_body(204));
  EXPECT_TRUE(status_has_body(200));
}

TEST(HttpWire, DefaultErrorBodyEscapesTheMessage) {
  ErrorBody e = default_error_body(400, "bad \"thing\"\n\\ \x01", Request{});
  EXPECT_EQ(e.content_type, "application/json");
  EXPECT_EQ(e.body, R"({"error":{"message":"bad \"thing\"\n\\ \u0001"}})");
}

TEST(HttpRouter, ExactMatchesAnd404Or405) {
  Router router;
  int hit = 0;
  router.add("POST", "/v1/chat/completions", [&](const Request&, std::shared_ptr<Responder>) { hit = 1; });
  router.add("GET", "/v1/models", [&](const Request&, std::shared_ptr<Responder>) { hit = 2; });
  router.add("POST", "/v1/models", [&](const Request&, std::shared_ptr<Responder>) { hit = 3; });
  router.add("GET", "/v1/models", [&](const Request&, std::shared_ptr<Responder>) { hit = 4; });  // replaces

  auto m = router.find("POST", "/v1/chat/completions");
  ASSERT_TRUE(m.handler);
  (*m.handler)(Request{}, nullptr);
  EXPECT_EQ(hit, 1);
  m = router.find("GET", "/v1/models");
  ASSERT_TRUE(m.handler);
  (*m.handler)(Request{}, nullptr);
  EXPECT_EQ(hit, 4);

  EXPECT_EQ(router.find("POST", "/v1/chat/completions/").status, 404);
  EXPECT_EQ(router.find("post", "/v1/chat/completions").status, 405);  // methods are case-sensitive
  m = router.find("DELETE", "/v1/models");
  EXPECT_FALSE(m.handler);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(HttpCors, AllowOrigin) {
  Request r;
  r.headers = {{"Origin", "https://a.example"}};
  EXPECT_EQ(CorsPolicy({}).allow_origin(r), "");
  EXPECT_FALSE(CorsPolicy({}).enabled());
  EXPECT_EQ(CorsPolicy({"https://a.example"}).allow_origin(r), "https://a.example");
  EXPECT_EQ(CorsPolicy({"https://b.example"}).allow_origin(r), "");
  EXPECT_EQ(CorsPolicy({"https://b.example", "*"}).allow_origin(r), "*");
  EXPECT_EQ(CorsPolicy({"*"}).allow_origin(Request{}), "");  // no Origin: not a CORS request
  r.method = "OPTIONS";
  EXPECT_FALSE(CorsPolicy::is_preflight(r));
  r.headers.emplace_back("access-control-request-method", "POST");
  EXPECT_TRUE(CorsPolicy::is_preflight(r));
}

}  // namespace
}  // namespace tessera::server::http
