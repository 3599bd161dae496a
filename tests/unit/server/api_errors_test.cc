// Error envelopes of both APIs, the status table and the errors of failed sequences.
#include <gtest/gtest.h>

#include "tessera/server/api/anthropic/errors.h"
#include "tessera/server/api/api_error.h"
#include "tessera/server/api/openai/errors.h"

namespace tessera::server::api {
namespace {

Json body_of(const Reply& r) { return Json::parse(r.body); }

TEST(ApiErrorsOpenAI, EnvelopeFieldsAndOrder) {
  Reply r = openai::error_reply(invalid_type("temperature", "a number", "a string"));
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.body,
            R"({"error":{"message":"Invalid type for 'temperature': expected a number, but got a string instead.",)"
            R"("type":"invalid_request_error","param":"temperature","code":"invalid_type"}})");
  // param and code are null when there is none.
  Json e = body_of(openai::error_reply(internal_error("boom")));
  EXPECT_TRUE(e["error"]["param"].is_null());
  EXPECT_TRUE(e["error"]["code"].is_null());
}

TEST(ApiErrorsOpenAI, StatusesAndTypes) {
  struct Case {
    ApiError error;
    int status;
    const char* type;
    const char* code;
  };
  const Case cases[] = {
      {invalid_request("bad"), 400, "invalid_request_error", nullptr},
      {authentication_failed("Incorrect API key provided."), 401, "invalid_request_error", "invalid_api_key"},
      {permission_denied("no"), 403, "invalid_request_error", nullptr},
      {model_not_found("gpt-9"), 404, "invalid_request_error", "model_not_found"},
      {request_too_large("big"), 413, "invalid_request_error", nullptr},
      {rate_limited("slow down"), 429, "requests", "rate_limit_exceeded"},
      {internal_error("boom"), 500, "server_error", nullptr},
      {overloaded("busy"), 503, "server_error", nullptr},
  };
  for (const Case& c : cases) {
    Reply r = openai::error_reply(c.error);
    EXPECT_EQ(r.http_status, c.status);
    Json e = body_of(r)["error"];
    EXPECT_EQ(e["type"], c.type) << c.status;
    if (c.code)
      EXPECT_EQ(e["code"], c.code);
    else
      EXPECT_TRUE(e["code"].is_null());
  }
  EXPECT_EQ(body_of(openai::error_reply(model_not_found("gpt-9")))["error"]["message"],
            "The model `gpt-9` does not exist or you do not have access to it.");
}

TEST(ApiErrorsOpenAI, StreamErrorChunkEndsTheStream) {
  EXPECT_EQ(openai::error_chunk(internal_error("x")),
            "data: {\"error\":{\"message\":\"x\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"
            "data: [DONE]\n\n");
}

TEST(ApiErrorsAnthropic, EnvelopeStatusesAndTypes) {
  struct Case {
    ApiError error;
    int status;
    const char* type;
  };
  const Case cases[] = {
      {invalid_request("bad"), 400, "invalid_request_error"},
      {authentication_failed("invalid x-api-key"), 401, "authentication_error"},
      {permission_denied("no"), 403, "permission_error"},
      {model_not_found("claude-x"), 404, "not_found_error"},
      {request_too_large("big"), 413, "request_too_large"},
      {rate_limited("slow"), 429, "rate_limit_error"},
      {internal_error("boom"), 500, "api_error"},
      {overloaded("busy"), 529, "overloaded_error"},
  };
  for (const Case& c : cases) {
    Reply r = anthropic::error_reply(c.error);
    EXPECT_EQ(r.http_status, c.status);
    EXPECT_EQ(r.body, std::string(R"({"type":"error","error":{"type":")") + c.type + R"(","message":")" +
                          c.error.message + "\"}}");
  }
}

TEST(ApiErrorsAnthropic, ErrorEvent) {
  EXPECT_EQ(anthropic::error_event(overloaded("Overloaded")),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
            "\"Overloaded\"}}\n\n");
}

TEST(ApiErrors, FromStatus) {
  EXPECT_EQ(error_from_status(invalid_argument("x")).http_status, 400);
  EXPECT_EQ(error_from_status(unimplemented("x")).http_status, 400);
  EXPECT_EQ(error_from_status(resource_exhausted("can never fit")).http_status, 400);
  EXPECT_EQ(error_from_status(::tessera::not_found("x")).http_status, 404);
  EXPECT_EQ(error_from_status(unavailable("draining")).http_status, 503);
  EXPECT_EQ(error_from_status(::tessera::internal_error("x")).http_status, 500);
  EXPECT_EQ(error_from_status(invalid_argument("top_p must be in (0, 1]")).message, "top_p must be in (0, 1]");
}

TEST(ApiErrors, FromFinish) {
  engine::RequestEvent e;
  e.finish = engine::FinishReason::kError;
  e.error = "out of memory";
  ApiError err = error_from_finish(e);
  EXPECT_EQ(err.http_status, 500);
  EXPECT_NE(err.message.find("out of memory"), std::string::npos);
  e.finish = engine::FinishReason::kAbort;
  EXPECT_EQ(error_from_finish(e).http_status, 503);
  EXPECT_TRUE(is_failure(engine::FinishReason::kAbort));
  EXPECT_FALSE(is_failure(engine::FinishReason::kLength));
}

}  // namespace
}  // namespace tessera::server::api
