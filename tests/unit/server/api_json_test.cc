// JSON bodies and the field reader that every parser of server/api uses.
#include <gtest/gtest.h>

#include "tessera/server/api/field_reader.h"
#include "tessera/server/api/json_body.h"

namespace tessera::server::api {
namespace {

TEST(ApiJsonBody, ParsesAnObjectAndKeepsKeyOrder) {
  auto j = parse_json_body(R"({"z": 1, "a": {"y": 2, "b": 3}})");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(dump(*j), R"({"z":1,"a":{"y":2,"b":3}})");
}

TEST(ApiJsonBody, RefusesWhatIsNotAJsonObject) {
  for (const char* body : {"", "{", "{\"a\":}", "[1, 2]", "\"text\"", "42", "{\"a\": \"\xff\"}"}) {
    auto j = parse_json_body(body);
    ASSERT_FALSE(j.ok()) << body;
    EXPECT_EQ(j.error().http_status, 400);
  }
}

TEST(ApiJsonBody, RefusesDeepNestingBeforeParsing) {
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  auto j = parse_json_body("{\"a\": " + deep + "}");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().message.find("nested"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_TRUE(parse_json_body("{\"a\": \"" + std::string(1000, '[') + "\"}").ok());
  // Just within the limit.
  std::string ok(kMaxJsonDepth - 1, '[');
  ok += std::string(kMaxJsonDepth - 1, ']');
  EXPECT_TRUE(parse_json_body("{\"a\": " + ok + "}").ok());
}

TEST(ApiJsonBody, EmbeddedJson) {
  EXPECT_EQ(dump(*parse_embedded_json(R"({"city": "Paris"})")), R"({"city":"Paris"})");
  EXPECT_FALSE(parse_embedded_json("not json").has_value());
  EXPECT_FALSE(parse_embedded_json(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']')));
}

TEST(ApiJsonBody, DumpReplacesInvalidUtf8) {
  Json j = Json::object();
  j["t"] = std::string("a\xe4\xb8");  // a character cut short
  EXPECT_EQ(dump(j), "{\"t\":\"a\xef\xbf\xbd\"}");
}

TEST(ApiFieldReader, AbsentAndNullKeepDefaults) {
  Json body = Json::parse(R"({"a": null})");
  FieldReader r(body);
  float t = 0.5f;
  EXPECT_FALSE(r.number("a", t, 0, 2));
  EXPECT_FALSE(r.number("b", t, 0, 2));
  EXPECT_EQ(t, 0.5f);
  EXPECT_TRUE(r.ok());
}

TEST(ApiFieldReader, WrongTypesNameTheField) {
  Json body = Json::parse(R"({"temperature": "hot", "n": true, "stream": 1, "user": 5})");
  {
    FieldReader r(body);
    float t = 1;
    r.number("temperature", t, 0, 2);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().param, "temperature");
    EXPECT_EQ(r.error().code, "invalid_type");
    EXPECT_EQ(r.error().message, "Invalid type for 'temperature': expected a number, but got a string instead.");
  }
  {
    FieldReader r(body, "messages[2].");
    int32_t n = 1;
    r.integer("n", n, 1, 10);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().param, "messages[2].n");
  }
  {
    FieldReader r(body);
    bool s = false;
    std::string u;
    r.boolean("stream", s);
    r.string("user", u);  // a no-op after the first error
    EXPECT_EQ(r.error().param, "stream");
  }
}

TEST(ApiFieldReader, RangesAndIntegers) {
  Json body = Json::parse(R"({"a": 3, "b": 2.0, "c": 2.5, "d": 1e30, "e": 18446744073709551615, "f": -1})");
  FieldReader r(body);
  int64_t v = 0;
  EXPECT_TRUE(r.integer("b", v, 0, 10));
  EXPECT_EQ(v, 2);
  EXPECT_FALSE(r.integer("a", v, 0, 2));
  EXPECT_EQ(r.error().code, "invalid_value");
  EXPECT_EQ(r.error().message, "Invalid value for 'a': expected an integer between 0 and 2, but got 3 instead.");
  for (const char* key : {"c", "d", "e", "f"}) {
    FieldReader q(body);
    EXPECT_FALSE(q.integer(key, v, 0, 100)) << key;
    EXPECT_EQ(q.error().code, std::string(key) == "c" ? "invalid_type" : "invalid_value") << key;
  }
  FieldReader q(body);
  float f = 0;
  EXPECT_FALSE(q.number("a", f, 0, 2));
  EXPECT_EQ(q.error().message, "Invalid value for 'a': expected a number between 0 and 2, but got 3 instead.");
}

TEST(ApiFieldReader, Require) {
  Json body = Json::parse(R"({"model": null})");
  FieldReader r(body);
  EXPECT_FALSE(r.require("model"));
  EXPECT_EQ(r.error().message, "Missing required parameter: 'model'.");
  EXPECT_EQ(r.error().code, "missing_required_parameter");
}

}  // namespace
}  // namespace tessera::server::api
