// Parsing and validation of POST /v1/messages and /v1/messages/count_tokens, and the conversion of Anthropic's
// content blocks into the Hugging Face chat shape.
#include <gtest/gtest.h>

#include "api_test_util.h"
#include "tessera/server/api/anthropic/billing_header.h"
#include "tessera/server/api/anthropic/messages_request.h"

namespace tessera::server::api::anthropic {
namespace {

using api::testing::resolver_for;
using api::testing::tiny_model;

class ApiAnthropicRequest : public ::testing::Test {
 protected:
  // A body with model and max_tokens, the given messages and extra fields.
  ApiResult<MessagesRequest> parse(const std::string& messages, const std::string& fields = "") {
    std::string body = R"({"model": "tiny", "max_tokens": 100, "messages": )" + messages;
    if (!fields.empty()) body += ", " + fields;
    return parse_messages(Json::parse(body + "}"), resolver_for(model_));
  }
  ApiResult<MessagesRequest> parse_fields(const std::string& fields) {
    return parse(R"([{"role": "user", "content": "Hi"}])", fields);
  }
  void expect_error(const ApiResult<MessagesRequest>& r, const std::string& message_part, int status = 400) {
    ASSERT_FALSE(r.ok()) << "expected: " << message_part;
    EXPECT_EQ(r.error().http_status, status);
    EXPECT_NE(r.error().message.find(message_part), std::string::npos) << r.error().message;
  }

  ServedModel model_ = tiny_model();
};

TEST_F(ApiAnthropicRequest, Fields) {
  auto r = parse_fields(R"("system": "Be terse.", "stop_sequences": ["\nHuman:", "END"], "temperature": 0.2,
      "top_p": 0.8, "top_k": 5, "stream": true, "metadata": {"user_id": "u-9"}, "thinking": {"type": "enabled",
      "budget_tokens": 1024}, "service_tier": "auto", "unknown": [1])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->max_tokens, 100);
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->user_id, "u-9");
  EXPECT_EQ(r->generation.stop, (std::vector<std::string>{"\nHuman:", "END"}));
  EXPECT_FLOAT_EQ(r->generation.sampling.temperature, 0.2f);
  EXPECT_FLOAT_EQ(r->generation.sampling.top_p, 0.8f);
  EXPECT_EQ(r->generation.sampling.top_k, 5);
  EXPECT_EQ(r->generation.sampling.num_logprobs, -1);
  EXPECT_EQ(dump(r->prompt.messages), R"([{"role":"system","content":"Be terse."},{"role":"user","content":"Hi"}])");
  EXPECT_TRUE(r->prompt.add_generation_prompt);
}

TEST_F(ApiAnthropicRequest, Errors) {
  auto r = parse_messages(Json::parse(R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]})"),
                          resolver_for(model_));
  expect_error(r, "Missing required parameter: 'max_tokens'.");
  expect_error(
      parse_messages(Json::parse(R"({"model": "claude-x", "max_tokens": 5, "messages": []})"), resolver_for(model_)),
      "claude-x", 404);
  expect_error(
      parse_messages(Json::parse(R"({"model": "tiny", "max_tokens": 0, "messages": []})"), resolver_for(model_)),
      "'max_tokens': expected an integer between 1");
  expect_error(
      parse_messages(Json::parse(R"({"model": "tiny", "max_tokens": -3, "messages": []})"), resolver_for(model_)),
      "max_tokens");
  expect_error(
      parse_messages(Json::parse(R"({"model": "tiny", "max_tokens": "5", "messages": []})"), resolver_for(model_)),
      "Invalid type for 'max_tokens'");
  expect_error(parse("[]"), "at least one message");
  expect_error(parse_fields(R"("temperature": 1.5)"), "'temperature': expected a number between 0 and 1");
  expect_error(parse_fields(R"("top_p": 0)"), "top_p");
  expect_error(parse_fields(R"("top_k": -1)"), "top_k");
  expect_error(parse_fields(R"("stop_sequences": "END")"), "'stop_sequences': expected an array");
  expect_error(parse_fields(R"("stop_sequences": [""])"), "'stop_sequences.0'");
  expect_error(parse_fields(R"("stop_sequences": [1])"), "'stop_sequences.0'");
  expect_error(parse_fields(R"("metadata": "x")"), "'metadata'");
  expect_error(parse_fields(R"("metadata": {"user_id": 5})"), "'metadata.user_id'");
  expect_error(parse_fields(R"("stream": "true")"), "'stream'");
  expect_error(parse_fields(R"("system": 5)"), "'system'");
  expect_error(parse_fields(R"("system": [{"type": "image"}])"), "'system.0.type'");
  expect_error(parse_fields(R"("thinking": true)"), "'thinking'");
  expect_error(parse_fields(R"("tool_choice": {"type": "sometimes"})"), "'tool_choice.type'");
  expect_error(parse_fields(R"("tool_choice": {"type": "tool"})"), "'tool_choice.name'");
  expect_error(parse_fields(R"("tools": [{"name": "f"}])"), "'tools.0.input_schema'");
  expect_error(parse(R"([{"role": "system", "content": "x"}])"), "'messages.0.role'");
  expect_error(parse(R"([{"role": "user"}])"), "'messages.0.content'");
  expect_error(parse(R"([{"role": "user", "content": 7}])"), "'messages.0.content'");
  expect_error(parse(R"([{"role": "user", "content": [{"text": "no type"}]}])"), "'messages.0.content.0.type'");
  expect_error(parse(R"([{"role": "user", "content": [{"type": "text"}]}])"), "'messages.0.content.0.text'");
  expect_error(parse(R"([{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}])"),
               "'messages.0.content.0.type'");
  expect_error(parse(R"([{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}])"),
               "'messages.0.content.0.type'");
  expect_error(parse(R"([{"role": "user", "content": [{"type": "server_tool_use"}]}])"), "'messages.0.content.0.type'");
}

TEST_F(ApiAnthropicRequest, ImageAndDocumentBlocksAreAClear400) {
  for (const char* type : {"image", "document"}) {
    auto r = parse(std::string(R"([{"role": "user", "content": [{"type": "text", "text": "look"}, {"type": ")") + type +
                   R"(", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}])");
    expect_error(r, "not supported yet");
    EXPECT_EQ(r.error().message.rfind("messages.0.content.1: ", 0), 0u) << r.error().message;
    EXPECT_TRUE(r.error().type.empty());  // the envelope makes it invalid_request_error
  }
  expect_error(parse(R"([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                  "content": [{"type": "image", "source": {}}]}]}])"),
               "not supported yet");
}

TEST_F(ApiAnthropicRequest, ToolUseAndToolResultBecomeTheHuggingFaceShape) {
  auto r = parse(R"([
      {"role": "user", "content": "Weather in Paris and Rome?"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Two calls.", "signature": "sig"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "unit": "C"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": false,
         "content": [{"type": "text", "text": "21C"}, {"type": "text", "text": "sunny"}]},
        {"type": "text", "text": "Thanks"}]}])",
                 R"("tools": [{"name": "get_weather", "description": "Current weather",
                     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                    {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
                    "tool_choice": {"type": "auto"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(
      dump(r->prompt.messages),
      R"([{"role":"user","content":"Weather in Paris and Rome?"},)"
      R"({"role":"assistant","content":"Let me check.","tool_calls":[)"
      R"({"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","unit":"C"}}},)"
      R"({"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":{"city":"Rome"}}}]},)"
      R"({"role":"tool","tool_call_id":"toolu_1","content":"18C"},)"
      R"({"role":"tool","tool_call_id":"toolu_2","content":"21C\nsunny"},)"
      R"({"role":"user","content":"Thanks"}])");
  // The server tool is skipped; the custom one takes the OpenAI/HF form.
  EXPECT_EQ(dump(r->prompt.tools),
            R"([{"type":"function","function":{"name":"get_weather","description":"Current weather",)"
            R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])");
  EXPECT_TRUE(r->prompt.add_generation_prompt);
  EXPECT_FALSE(r->prompt.continue_final_message);
}

TEST_F(ApiAnthropicRequest, ToolResultsOnlyAddNoUserMessage) {
  auto r = parse(R"([{"role": "user", "content": "q"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(dump(r->prompt.messages), R"([{"role":"user","content":"q"},)"
                                      R"({"role":"assistant","content":"","tool_calls":[{"id":"t1","type":"function",)"
                                      R"("function":{"name":"f","arguments":{}}}]},)"
                                      R"({"role":"tool","tool_call_id":"t1","content":""}])");
}

TEST_F(ApiAnthropicRequest, ToolChoiceNoneLeavesToolsOut) {
  auto r =
      parse_fields(R"("tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "none"})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->prompt.tools.is_null());
  for (const char* choice : {R"({"type": "any"})", R"({"type": "tool", "name": "f"})"}) {
    r = parse_fields(std::string(R"("tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": )") +
                     choice);
    ASSERT_TRUE(r.ok()) << choice;
    EXPECT_EQ(r->prompt.tools.size(), 1u);
  }
}

TEST_F(ApiAnthropicRequest, ConsecutiveTurnsAreMergedAndSystemBlocksJoined) {
  auto r = parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": "b"},
      {"type": "text", "text": "c", "cache_control": {"type": "ephemeral"}}]}])",
                 R"("system": [{"type": "text", "text": "one"}, {"type": "text", "text": "two",
                     "cache_control": {"type": "ephemeral"}}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(dump(r->prompt.messages),
            R"([{"role":"system","content":"one\ntwo"},{"role":"user","content":"a\nb\nc"}])");
}

TEST_F(ApiAnthropicRequest, AFinalAssistantMessageIsAPrefill) {
  auto r = parse(R"([{"role": "user", "content": "Count"}, {"role": "assistant", "content": "1, 2,"}])");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->prompt.continue_final_message);
  EXPECT_FALSE(r->prompt.add_generation_prompt);
  // An empty one asks for a fresh turn.
  r = parse(R"([{"role": "user", "content": "Count"}, {"role": "assistant", "content": ""}])");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->prompt.continue_final_message);
  EXPECT_TRUE(r->prompt.add_generation_prompt);
  EXPECT_EQ(r->prompt.messages.size(), 1u);

  auto prepared = prepare_messages(
      R"({"model": "tiny", "max_tokens": 5, "messages": [{"role": "user", "content": "Count"},
          {"role": "assistant", "content": "1, 2,"}]})",
      resolver_for(model_));
  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  EXPECT_EQ(model_.tokenizer->decode(prepared->generation.prompt), "<|user|>Count<|end|><|assistant|>1, 2,");
}

TEST(ApiAnthropicBillingHeader, DropsTheLineOnly) {
  EXPECT_EQ(drop_billing_header("x-anthropic-billing-header: cc_version=2.1.3.a1b; cc_entrypoint=cli; cch=9f8e7;"), "");
  EXPECT_EQ(drop_billing_header("x-anthropic-billing-header: cc_version=1; cch=abc;\nYou are Claude Code.\nBe kind."),
            "You are Claude Code.\nBe kind.");
  EXPECT_EQ(drop_billing_header("Intro\n  x-anthropic-billing-header: cch=1;\nOutro"), "Intro\nOutro");
  EXPECT_EQ(drop_billing_header("Mentions x-anthropic-billing-header: mid-line"),
            "Mentions x-anthropic-billing-header: mid-line");
  EXPECT_EQ(drop_billing_header("plain"), "plain");
}

TEST_F(ApiAnthropicRequest, BillingHeaderDoesNotChangeThePrompt) {
  // Claude Code's shape: the billing line as its own first system block, with a cch that changes every request.
  auto body = [](const std::string& cch, bool as_string) {
    const std::string header = "x-anthropic-billing-header: cc_version=2.1.3.e4f; cc_entrypoint=cli; cch=" + cch + ";";
    const std::string system =
        as_string
            ? Json(header + "\nYou are Claude Code.").dump()
            : R"([{"type": "text", "text": ")" + header +
                  R"("}, {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}])";
    return R"({"model": "tiny", "max_tokens": 10, "system": )" + system +
           R"(, "messages": [{"role": "user", "content": "hi"}]})";
  };
  auto a = prepare_messages(body("00a1f", false), resolver_for(model_));
  auto b = prepare_messages(body("7c3d2", false), resolver_for(model_));
  auto c = prepare_messages(body("12345", true), resolver_for(model_));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->generation.prompt, b->generation.prompt);
  EXPECT_EQ(a->generation.prompt, c->generation.prompt);
  EXPECT_EQ(model_.tokenizer->decode(a->generation.prompt),
            "<|system|>You are Claude Code.<|end|><|user|>hi<|end|><|assistant|>");
  auto only_header = parse_fields(R"("system": "x-anthropic-billing-header: cch=1;")");
  ASSERT_TRUE(only_header.ok());
  EXPECT_EQ(only_header->prompt.messages.size(), 1u);  // no empty system message
}

TEST_F(ApiAnthropicRequest, PrepareFitsMaxTokensAndRefusesLongPrompts) {
  ServedModel small = tiny_model(/*max_model_len=*/40);
  auto r =
      prepare_messages(R"({"model": "tiny", "max_tokens": 32000, "messages": [{"role": "user", "content": "hi"}]})",
                       resolver_for(small));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->generation.max_tokens, 40 - static_cast<int32_t>(r->generation.prompt.size()));
  EXPECT_EQ(r->max_tokens, 32000);
  EXPECT_EQ(r->id.rfind("msg_01", 0), 0u);
  EXPECT_EQ(r->id.size(), 6u + 22u);

  r = prepare_messages(R"({"model": "tiny", "max_tokens": 10, "messages": [{"role": "user", "content": ")" +
                           std::string(50, 'x') + R"("}]})",
                       resolver_for(small));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
  const int64_t n = static_cast<int64_t>(
      model_.tokenizer->encode("<|user|>" + std::string(50, 'x') + "<|end|><|assistant|>", false, true).size());
  EXPECT_EQ(r.error().message, "prompt is too long: " + std::to_string(n) + " tokens > 39 maximum");
}

TEST_F(ApiAnthropicRequest, CountTokens) {
  const std::string body =
      R"({"model": "tiny", "system": "S", "messages": [{"role": "user", "content": "hello"}],
          "tools": [{"name": "f", "input_schema": {"type": "object"}}]})";
  auto r = count_tokens(body, resolver_for(model_));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text =
      R"(<|system|>S<|end|><|user|>hello<|end|><|tools|>[{"type": "function", "function": {"name": "f", )"
      R"("parameters": {"type": "object"}}}]<|end|><|assistant|>)";
  EXPECT_EQ(dump(*r), R"({"input_tokens":)" + std::to_string(model_.tokenizer->encode(text, false, true).size()) + "}");
  // No context check: counting is how a client finds out it must compact.
  ServedModel small = tiny_model(5);
  EXPECT_TRUE(count_tokens(body, resolver_for(small)).ok());
  EXPECT_FALSE(count_tokens(R"({"model": "tiny", "messages": "x"})", resolver_for(model_)).ok());
}

}  // namespace
}  // namespace tessera::server::api::anthropic
