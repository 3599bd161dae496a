// Rendering of Anthropic's message object and its streamed event sequence.
#include <gtest/gtest.h>

#include "api_test_util.h"
#include "tessera/server/api/anthropic/messages_response.h"

namespace tessera::server::api::anthropic {
namespace {

using api::testing::tiny_model;
using engine::FinishReason;
using engine::RequestEvent;

RequestEvent make_event(std::string text, std::optional<FinishReason> finish, engine::Usage usage,
                        std::string stop_string = "") {
  RequestEvent e;
  e.token_ids = {104};
  e.text = std::move(text);
  e.finish = finish;
  e.usage = usage;
  e.stop_string = std::move(stop_string);
  return e;
}

struct SseEvent {
  std::string name;
  Json data;
};

std::vector<SseEvent> parse_sse(const std::string& sse) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    const size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    const std::string frame = sse.substr(pos, end - pos);
    const size_t nl = frame.find('\n');
    EXPECT_EQ(frame.rfind("event: ", 0), 0u) << frame;
    EXPECT_EQ(frame.compare(nl + 1, 6, "data: "), 0) << frame;
    SseEvent e{frame.substr(7, nl - 7), Json::parse(frame.substr(nl + 7))};
    EXPECT_EQ(e.data["type"], e.name) << "the data's type names its event";
    out.push_back(std::move(e));
    pos = end + 2;
  }
  return out;
}

std::vector<std::string> names(const std::vector<SseEvent>& events) {
  std::vector<std::string> n;
  for (const auto& e : events) n.push_back(e.name);
  return n;
}

class ApiAnthropicResponse : public ::testing::Test {
 protected:
  ApiAnthropicResponse() {
    request_.id = "msg_01abc";
    request_.model = &model_;
    request_.stream = true;
  }
  ServedModel model_ = tiny_model();
  MessagesRequest request_;
};

TEST_F(ApiAnthropicResponse, MessageObject) {
  ResponseAccumulator acc(1);
  acc.add(make_event("Hello", std::nullopt, {20, 1, 16}));
  acc.add(make_event(" there", FinishReason::kStop, {20, 2, 16}));
  Reply reply = message_reply(request_, acc);
  EXPECT_EQ(reply.http_status, 200);
  EXPECT_EQ(reply.body,
            R"({"id":"msg_01abc","type":"message","role":"assistant","model":"tiny",)"
            R"("content":[{"type":"text","text":"Hello there"}],"stop_reason":"end_turn","stop_sequence":null,)"
            R"("usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":16,)"
            R"("output_tokens":2}})");
}

TEST_F(ApiAnthropicResponse, StopReasons) {
  struct Case {
    FinishReason finish;
    const char* stop_string;
    const char* reason;
    Json sequence;
  };
  const Case cases[] = {{FinishReason::kStop, "", "end_turn", nullptr},
                        {FinishReason::kStop, "\nHuman:", "stop_sequence", "\nHuman:"},
                        {FinishReason::kLength, "", "max_tokens", nullptr}};
  for (const Case& c : cases) {
    ResponseAccumulator acc(1);
    acc.add(make_event("x", c.finish, {3, 1, 0}, c.stop_string));
    Json m = render_message(request_, acc);
    EXPECT_EQ(m["stop_reason"], c.reason);
    EXPECT_EQ(m["stop_sequence"], c.sequence);
  }
}

TEST_F(ApiAnthropicResponse, StreamEndingByStopSequence) {
  MessageStream stream(request_);
  std::string sse = stream.on_event(make_event("Hel", std::nullopt, {12, 1, 8}));
  sse += stream.on_event(make_event("", std::nullopt, {12, 2, 8}));  // held back by stop matching
  sse += stream.on_event(make_event("lo", std::nullopt, {12, 3, 8}));
  EXPECT_FALSE(stream.done());
  sse += stream.on_event(make_event("!", FinishReason::kStop, {12, 5, 8}, "END"));
  EXPECT_TRUE(stream.done());
  EXPECT_EQ(stream.on_event(make_event("late", std::nullopt, {})), "");

  const std::vector<SseEvent> events = parse_sse(sse);
  EXPECT_EQ(names(events),
            (std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                      "content_block_delta", "content_block_delta", "content_block_stop",
                                      "message_delta", "message_stop"}));
  EXPECT_EQ(dump(events[0].data),
            R"({"type":"message_start","message":{"id":"msg_01abc","type":"message","role":"assistant",)"
            R"("model":"tiny","content":[],"stop_reason":null,"stop_sequence":null,)"
            R"("usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":8,)"
            R"("output_tokens":1}}})");
  EXPECT_EQ(dump(events[1].data),
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  EXPECT_EQ(dump(events[2].data), R"({"type":"ping"})");
  EXPECT_EQ(dump(events[3].data),
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})");
  EXPECT_EQ(events[4].data["delta"]["text"], "lo");
  EXPECT_EQ(events[5].data["delta"]["text"], "!");
  EXPECT_EQ(dump(events[6].data), R"({"type":"content_block_stop","index":0})");
  EXPECT_EQ(dump(events[7].data),
            R"({"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},)"
            R"("usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":8,)"
            R"("output_tokens":5}})");
  EXPECT_EQ(dump(events[8].data), R"({"type":"message_stop"})");
  // Exact framing of one event.
  EXPECT_NE(sse.find("event: ping\ndata: {\"type\":\"ping\"}\n\n"), std::string::npos);
}

TEST_F(ApiAnthropicResponse, StreamEndingByMaxTokens) {
  MessageStream stream(request_);
  // One event that brings text and the finish together.
  const std::vector<SseEvent> events =
      parse_sse(stream.on_event(make_event("All of it", FinishReason::kLength, {7, 3, 0})));
  EXPECT_EQ(names(events),
            (std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                      "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(events[0].data["message"]["usage"]["input_tokens"], 7);
  EXPECT_EQ(events[0].data["message"]["usage"]["output_tokens"], 1);
  EXPECT_EQ(dump(events[5].data["delta"]), R"({"stop_reason":"max_tokens","stop_sequence":null})");
  EXPECT_EQ(events[5].data["usage"]["output_tokens"], 3);
  EXPECT_TRUE(stream.done());
}

TEST_F(ApiAnthropicResponse, StreamEndingByEndOfTurnWithNoText) {
  MessageStream stream(request_);
  RequestEvent eos = make_event("", FinishReason::kStop, {7, 1, 0});
  eos.stop_token_id = 2;
  const std::vector<SseEvent> events = parse_sse(stream.on_event(eos));
  EXPECT_EQ(names(events), (std::vector<std::string>{"message_start", "content_block_start", "ping",
                                                     "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(events[4].data["delta"]["stop_reason"], "end_turn");
}

TEST_F(ApiAnthropicResponse, StreamFailureIsAnErrorEvent) {
  MessageStream stream(request_);
  std::string sse = stream.on_event(make_event("partial", std::nullopt, {7, 1, 0}));
  sse += stream.on_event(make_event("", FinishReason::kAbort, {7, 1, 0}));
  EXPECT_TRUE(stream.done());
  const std::vector<SseEvent> events = parse_sse(sse);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[4].name, "error");
  EXPECT_EQ(events[4].data["error"]["type"], "overloaded_error");

  MessageStream second(request_);
  RequestEvent failed = make_event("", FinishReason::kError, {7, 0, 0});
  failed.error = "kernel failed";
  const std::vector<SseEvent> e2 = parse_sse(second.on_event(failed));
  ASSERT_EQ(e2.size(), 4u);  // the message opens, then the error
  EXPECT_EQ(e2[0].data["message"]["usage"]["output_tokens"], 0);
  EXPECT_EQ(e2[3].data["error"]["type"], "api_error");
}

TEST_F(ApiAnthropicResponse, NonStreamingFailure) {
  ResponseAccumulator acc(1);
  RequestEvent failed = make_event("", FinishReason::kError, {7, 0, 0});
  acc.add(failed);
  Reply reply = message_reply(request_, acc);
  EXPECT_EQ(reply.http_status, 500);
  EXPECT_EQ(Json::parse(reply.body)["error"]["type"], "api_error");
}

}  // namespace
}  // namespace tessera::server::api::anthropic
