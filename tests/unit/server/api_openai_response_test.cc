// Rendering of OpenAI's response objects: chat.completion, the chat.completion.chunk stream, text_completion (both
// forms), logprobs and the model list.
#include <gtest/gtest.h>

#include "api_test_util.h"
#include "tessera/server/api/openai/chat_response.h"
#include "tessera/server/api/openai/completion_response.h"
#include "tessera/server/api/openai/models.h"

namespace tessera::server::api::openai {
namespace {

using api::testing::tiny_model;
using engine::FinishReason;
using engine::RequestEvent;

RequestEvent make_event(int32_t index, std::vector<int32_t> tokens, std::string text,
                        std::optional<FinishReason> finish = std::nullopt, engine::Usage usage = {}) {
  RequestEvent e;
  e.index = index;
  e.token_ids = std::move(tokens);
  e.text = std::move(text);
  e.finish = finish;
  e.usage = usage;
  return e;
}

engine::SampleResult sample(int32_t token, float logprob, std::vector<engine::TokenLogprob> top = {}) {
  engine::SampleResult r;
  r.token = token;
  r.logprob = logprob;
  r.top = std::move(top);
  return r;
}

// The JSON of each `data:` line of an SSE text ("[DONE]" as a string).
std::vector<Json> sse_payloads(const std::string& sse) {
  std::vector<Json> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    const size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event";
    if (end == std::string::npos) break;
    const std::string frame = sse.substr(pos, end - pos);
    EXPECT_EQ(frame.rfind("data: ", 0), 0u) << frame;
    const std::string data = frame.substr(6);
    out.push_back(data == "[DONE]" ? Json("[DONE]") : Json::parse(data));
    pos = end + 2;
  }
  return out;
}

class ApiOpenAIResponse : public ::testing::Test {
 protected:
  ApiOpenAIResponse() {
    chat_.id = "chatcmpl-abc";
    chat_.created = 1700000123;
    chat_.model = &model_;
    completion_.id = "cmpl-xyz";
    completion_.created = 1700000456;
    completion_.model = &model_;
    completion_.prompt_text = "hello";
  }

  ServedModel model_ = tiny_model();
  ChatCompletionRequest chat_;
  CompletionRequest completion_;
};

TEST_F(ApiOpenAIResponse, ChatCompletionObject) {
  ResponseAccumulator acc(1);
  acc.add(make_event(0, {259}, "hello", std::nullopt, {10, 1, 4}));
  acc.add(make_event(0, {260, 261}, " w", FinishReason::kStop, {10, 3, 4}));
  ASSERT_TRUE(acc.done());
  Reply reply = chat_completion_reply(chat_, acc);
  EXPECT_EQ(reply.http_status, 200);
  EXPECT_EQ(reply.body, R"({"id":"chatcmpl-abc","object":"chat.completion","created":1700000123,"model":"tiny",)"
                        R"("choices":[{"index":0,"message":{"role":"assistant","content":"hello w"},"logprobs":null,)"
                        R"("finish_reason":"stop"}],)"
                        R"("usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13,)"
                        R"("prompt_tokens_details":{"cached_tokens":4}}})");
}

TEST_F(ApiOpenAIResponse, ChatLogprobs) {
  chat_.logprobs = true;
  chat_.generation.sampling.num_logprobs = 1;
  ResponseAccumulator acc(1);
  RequestEvent e = make_event(0, {259, 0xE4}, "hello", FinishReason::kLength);
  e.logprobs = {sample(259, -0.25f, {{259, -0.25f}, {104, -2.0f}}),
                sample(0xE4, -std::numeric_limits<float>::infinity(), {{0xE4, -1.0f}})};
  acc.add(e);
  Json body = render_chat_completion(chat_, acc);
  const Json& choice = body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(dump(choice["logprobs"]),
            R"({"content":[{"token":"hello","logprob":-0.25,"bytes":[104,101,108,108,111],)"
            R"("top_logprobs":[{"token":"hello","logprob":-0.25,"bytes":[104,101,108,108,111]}]},)"
            R"({"token":")"
            "\xEF\xBF\xBD"
            R"(","logprob":-9999.0,"bytes":[228],)"
            R"("top_logprobs":[{"token":")"
            "\xEF\xBF\xBD"
            R"(","logprob":-1.0,"bytes":[228]}]}]})");
}

TEST_F(ApiOpenAIResponse, ChatStreamTwoChoicesWithUsage) {
  chat_.generation.n = 2;
  chat_.common.stream = true;
  chat_.common.include_usage = true;
  ChatCompletionStream stream(chat_);
  std::string sse;
  sse += stream.on_event(make_event(1, {104}, "A", std::nullopt, {5, 1, 0}));
  sse += stream.on_event(make_event(0, {105}, "B", std::nullopt, {5, 2, 0}));
  sse += stream.on_event(make_event(0, {106}, "", std::nullopt, {5, 3, 0}));  // text held back: no chunk
  sse += stream.on_event(make_event(1, {261}, "", FinishReason::kStop, {5, 4, 0}));
  EXPECT_FALSE(stream.done());
  sse += stream.on_event(make_event(0, {107}, "C", FinishReason::kLength, {5, 5, 0}));
  EXPECT_TRUE(stream.done());
  EXPECT_EQ(stream.on_event(make_event(0, {1}, "late")), "");

  const std::vector<Json> p = sse_payloads(sse);
  ASSERT_EQ(p.size(), 9u);
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    EXPECT_EQ(p[i]["id"], "chatcmpl-abc");
    EXPECT_EQ(p[i]["object"], "chat.completion.chunk");
    EXPECT_EQ(p[i]["created"], 1700000123);
    EXPECT_EQ(p[i]["model"], "tiny");
  }
  auto choice = [&](size_t i) { return dump(p[i]["choices"]) + " usage=" + dump(p[i]["usage"]); };
  EXPECT_EQ(
      choice(0),
      R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}] usage=null)");
  EXPECT_EQ(
      choice(1),
      R"([{"index":1,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}] usage=null)");
  EXPECT_EQ(choice(2), R"([{"index":1,"delta":{"content":"A"},"logprobs":null,"finish_reason":null}] usage=null)");
  EXPECT_EQ(choice(3), R"([{"index":0,"delta":{"content":"B"},"logprobs":null,"finish_reason":null}] usage=null)");
  EXPECT_EQ(choice(4), R"([{"index":1,"delta":{},"logprobs":null,"finish_reason":"stop"}] usage=null)");
  EXPECT_EQ(choice(5), R"([{"index":0,"delta":{"content":"C"},"logprobs":null,"finish_reason":null}] usage=null)");
  EXPECT_EQ(choice(6), R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}] usage=null)");
  EXPECT_EQ(dump(p[7]), R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000123,)"
                        R"("model":"tiny","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5,)"
                        R"("total_tokens":10,"prompt_tokens_details":{"cached_tokens":0}}})");
  EXPECT_EQ(p[8], "[DONE]");
  EXPECT_TRUE(sse.ends_with("data: [DONE]\n\n"));
}

TEST_F(ApiOpenAIResponse, ChatStreamWithoutUsageHasNoUsageField) {
  ChatCompletionStream stream(chat_);
  const std::vector<Json> p = sse_payloads(stream.on_event(make_event(0, {104}, "Hi", FinishReason::kStop)));
  ASSERT_EQ(p.size(), 4u);  // role, content, finish, [DONE]
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(p[i].contains("usage"));
  EXPECT_EQ(p[3], "[DONE]");
}

TEST_F(ApiOpenAIResponse, ChatStreamLogprobsRideWithTheirChunk) {
  chat_.logprobs = true;
  chat_.generation.sampling.num_logprobs = 0;
  ChatCompletionStream stream(chat_);
  RequestEvent e = make_event(0, {104}, "", std::nullopt);  // logprobs but no text yet still make a chunk
  e.logprobs = {sample(104, -0.5f, {{104, -0.5f}})};
  const std::vector<Json> p = sse_payloads(stream.on_event(e));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(dump(p[1]["choices"][0]["logprobs"]),
            R"({"content":[{"token":"h","logprob":-0.5,"bytes":[104],"top_logprobs":[]}]})");
  EXPECT_EQ(p[1]["choices"][0]["delta"]["content"], "");
}

TEST_F(ApiOpenAIResponse, ChatStreamFailureEndsWithAnErrorChunk) {
  chat_.generation.n = 2;
  ChatCompletionStream stream(chat_);
  std::string sse = stream.on_event(make_event(0, {104}, "h"));
  RequestEvent failed = make_event(1, {}, "", FinishReason::kError);
  failed.error = "backend failure";
  sse += stream.on_event(failed);
  EXPECT_TRUE(stream.done());
  const std::vector<Json> p = sse_payloads(sse);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[3]["error"]["type"], "server_error");
  EXPECT_NE(p[3]["error"]["message"].get<std::string>().find("backend failure"), std::string::npos);
  EXPECT_EQ(p[4], "[DONE]");
}

TEST_F(ApiOpenAIResponse, NonStreamingFailureIsAnErrorReply) {
  ResponseAccumulator acc(2);
  acc.add(make_event(0, {104}, "h", FinishReason::kStop));
  acc.add(make_event(1, {}, "", FinishReason::kAbort));
  ASSERT_TRUE(acc.done());
  Reply reply = chat_completion_reply(chat_, acc);
  EXPECT_EQ(reply.http_status, 503);
  EXPECT_EQ(Json::parse(reply.body)["error"]["type"], "server_error");
}

TEST_F(ApiOpenAIResponse, CompletionObjectWithEchoAndLogprobs) {
  completion_.generation.n = 2;
  completion_.generation.sampling.num_logprobs = 1;
  completion_.echo = true;
  ResponseAccumulator acc(2);
  RequestEvent a = make_event(0, {260}, " w", FinishReason::kStop, {3, 1, 0});
  a.logprobs = {sample(260, -0.5f, {{104, -0.1f}})};
  RequestEvent b = make_event(1, {104}, "h", FinishReason::kLength, {3, 2, 0});
  b.logprobs = {sample(104, -0.1f, {{104, -0.1f}})};
  acc.add(a);
  acc.add(b);
  Reply reply = completion_reply(completion_, acc);
  EXPECT_EQ(reply.http_status, 200);
  EXPECT_EQ(reply.body, R"({"id":"cmpl-xyz","object":"text_completion","created":1700000456,"model":"tiny","choices":[)"
                        R"({"text":"hello w","index":0,"logprobs":{"tokens":[" w"],"token_logprobs":[-0.5],)"
                        R"("top_logprobs":[{"h":-0.1," w":-0.5}],"text_offset":[5]},"finish_reason":"stop"},)"
                        R"({"text":"helloh","index":1,"logprobs":{"tokens":["h"],"token_logprobs":[-0.1],)"
                        R"("top_logprobs":[{"h":-0.1}],"text_offset":[5]},"finish_reason":"length"}],)"
                        R"("usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,)"
                        R"("prompt_tokens_details":{"cached_tokens":0}}})");
}

TEST_F(ApiOpenAIResponse, CompletionStream) {
  completion_.common.stream = true;
  completion_.common.include_usage = true;
  completion_.generation.sampling.num_logprobs = 0;
  CompletionStream stream(completion_);
  RequestEvent first = make_event(0, {104, 105}, "hi", std::nullopt, {3, 2, 1});
  first.logprobs = {sample(104, -1.0f), sample(105, -2.0f)};
  RequestEvent last = make_event(0, {261}, "", FinishReason::kStop, {3, 3, 1});
  last.logprobs = {sample(261, -0.5f)};
  std::string sse = stream.on_event(first);
  sse += stream.on_event(last);
  EXPECT_TRUE(stream.done());
  const std::vector<Json> p = sse_payloads(sse);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(dump(p[0]), R"({"id":"cmpl-xyz","object":"text_completion","created":1700000456,"model":"tiny",)"
                        R"("choices":[{"text":"hi","index":0,"logprobs":{"tokens":["h","i"],)"
                        R"("token_logprobs":[-1.0,-2.0],"top_logprobs":[{"h":-1.0},{"i":-2.0}],)"
                        R"("text_offset":[0,1]},"finish_reason":null}],"usage":null})");
  EXPECT_EQ(dump(p[1]["choices"][0]["logprobs"]["text_offset"]), "[2]");  // offsets continue across chunks
  EXPECT_EQ(p[1]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(p[1]["choices"][0]["text"], "");
  EXPECT_EQ(dump(p[2]["choices"]), "[]");
  EXPECT_EQ(p[2]["usage"]["completion_tokens"], 3);
  EXPECT_EQ(p[2]["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
  EXPECT_EQ(p[3], "[DONE]");
}

TEST_F(ApiOpenAIResponse, CompletionStreamEchoesOncePerChoice) {
  completion_.echo = true;
  completion_.generation.n = 2;
  CompletionStream stream(completion_);
  std::string sse = stream.on_event(make_event(1, {104}, "h"));
  sse += stream.on_event(make_event(1, {105}, "i"));
  sse += stream.on_event(make_event(0, {}, "", FinishReason::kStop));
  sse += stream.on_event(make_event(1, {}, "", FinishReason::kStop));
  const std::vector<Json> p = sse_payloads(sse);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0]["choices"][0]["text"], "helloh");
  EXPECT_EQ(p[1]["choices"][0]["text"], "i");
  EXPECT_EQ(p[2]["choices"][0]["text"], "hello");
  EXPECT_EQ(p[2]["choices"][0]["index"], 0);
  EXPECT_EQ(p[3]["choices"][0]["text"], "");
  EXPECT_EQ(p[4], "[DONE]");
}

TEST_F(ApiOpenAIResponse, ModelList) {
  const ServedModel* models[] = {&model_};
  EXPECT_EQ(dump(render_model_list(models)),
            R"({"object":"list","data":[{"id":"tiny","object":"model","created":1700000000,"owned_by":"tessera",)"
            R"("max_model_len":4096}]})");
}

}  // namespace
}  // namespace tessera::server::api::openai
