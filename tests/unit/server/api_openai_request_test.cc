// Parsing and validation of POST /v1/chat/completions and POST /v1/completions.
#include <gtest/gtest.h>

#include "api_test_util.h"
#include "tessera/server/api/openai/chat_request.h"
#include "tessera/server/api/openai/completion_request.h"

namespace tessera::server::api::openai {
namespace {

using api::testing::resolver_for;
using api::testing::tiny_model;

class ApiOpenAIChatRequest : public ::testing::Test {
 protected:
  ApiResult<ChatCompletionRequest> parse(const std::string& fields) {
    std::string body = R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}])";
    if (!fields.empty()) body += ", " + fields;
    body += "}";
    return parse_chat_completion(Json::parse(body), resolver_for(model_));
  }
  ApiResult<ChatCompletionRequest> parse_messages(const std::string& messages) {
    return parse_chat_completion(Json::parse(R"({"model": "tiny", "messages": )" + messages + "}"),
                                 resolver_for(model_));
  }
  // The failed parse's error: its param and a part of its message.
  void expect_error(const ApiResult<ChatCompletionRequest>& r, const std::string& param,
                    const std::string& message_part, int status = 400) {
    ASSERT_FALSE(r.ok()) << "expected an error about " << param;
    EXPECT_EQ(r.error().http_status, status);
    EXPECT_EQ(r.error().param, param) << r.error().message;
    EXPECT_NE(r.error().message.find(message_part), std::string::npos) << r.error().message;
  }

  ServedModel model_ = tiny_model();
};

TEST_F(ApiOpenAIChatRequest, Defaults) {
  auto r = parse("");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, &model_);
  EXPECT_FALSE(r->common.stream);
  EXPECT_FALSE(r->common.include_usage);
  EXPECT_FALSE(r->common.max_tokens.has_value());
  EXPECT_EQ(r->generation.n, 1);
  EXPECT_EQ(r->generation.sampling.temperature, 1.0f);
  EXPECT_EQ(r->generation.sampling.num_logprobs, -1);
  EXPECT_FALSE(r->generation.sampling.seed.has_value());
  EXPECT_TRUE(r->prompt.add_generation_prompt);
  EXPECT_TRUE(r->prompt.tools.is_null());
  EXPECT_EQ(dump(r->prompt.messages), R"([{"role":"user","content":"Hi"}])");
}

TEST_F(ApiOpenAIChatRequest, EveryField) {
  auto r = parse(R"("stream": true, "stream_options": {"include_usage": true}, "n": 3, "seed": -5,
    "logprobs": true, "top_logprobs": 4, "stop": ["\n\n", "END"], "max_tokens": 50, "max_completion_tokens": 40,
    "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "presence_penalty": 0.5,
    "frequency_penalty": -0.5, "repetition_penalty": 1.1, "logit_bias": {"42": -100, "7": 2.5}, "user": "u-1",
    "response_format": {"type": "text"}, "ignore_eos": true, "min_tokens": 3, "stop_token_ids": [261, 5],
    "skip_special_tokens": false, "include_stop_str_in_output": true, "cache_salt": "tenant-a",
    "add_generation_prompt": true, "chat_template_kwargs": {"enable_thinking": false}, "reasoning_effort": "low",
    "parallel_tool_calls": false, "some_unknown_field": {"x": 1})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const engine::GenerationRequest& g = r->generation;
  const engine::SamplingParams& s = g.sampling;
  EXPECT_TRUE(r->common.stream);
  EXPECT_TRUE(r->common.include_usage);
  EXPECT_EQ(g.n, 3);
  EXPECT_EQ(s.seed, static_cast<uint64_t>(int64_t{-5}));
  EXPECT_TRUE(r->logprobs);
  EXPECT_EQ(s.num_logprobs, 4);
  EXPECT_EQ(g.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_EQ(r->common.max_tokens, 40);  // max_completion_tokens wins
  EXPECT_FLOAT_EQ(s.temperature, 0.7f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_EQ(s.logit_bias, (std::vector<std::pair<int32_t, float>>{{42, -100.0f}, {7, 2.5f}}));
  EXPECT_EQ(r->common.user, "u-1");
  EXPECT_TRUE(g.ignore_eos);
  EXPECT_EQ(s.min_tokens, 3);
  EXPECT_EQ(g.stop_token_ids, (std::vector<int32_t>{261, 5}));
  EXPECT_FALSE(g.skip_special_tokens);
  EXPECT_TRUE(g.include_stop_str_in_output);
  EXPECT_EQ(g.cache_salt, "tenant-a");
  EXPECT_EQ(dump(r->prompt.template_kwargs), R"({"enable_thinking":false,"reasoning_effort":"low"})");
}

TEST_F(ApiOpenAIChatRequest, SmallForms) {
  auto r = parse(R"("stop": "###", "top_k": -1, "max_tokens": 7, "stream_options": {"include_usage": true})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->generation.stop, std::vector<std::string>{"###"});
  EXPECT_EQ(r->generation.sampling.top_k, 0);  // -1 is vLLM's "off"
  EXPECT_EQ(r->common.max_tokens, 7);
  EXPECT_FALSE(r->common.include_usage);  // stream_options only counts when streaming
  r = parse(R"("logprobs": true)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.sampling.num_logprobs, 0);
}

TEST_F(ApiOpenAIChatRequest, WrongTypesAndRanges) {
  expect_error(parse(R"("temperature": "0.5")"), "temperature", "expected a number");
  expect_error(parse(R"("temperature": 2.5)"), "temperature", "between 0 and 2");
  expect_error(parse(R"("top_p": 0)"), "top_p", "greater than 0");
  expect_error(parse(R"("top_p": 1.5)"), "top_p", "between 0 and 1");
  expect_error(parse(R"("top_k": -2)"), "top_k", "between -1");
  expect_error(parse(R"("min_p": 2)"), "min_p", "between 0 and 1");
  expect_error(parse(R"("presence_penalty": 3)"), "presence_penalty", "between -2 and 2");
  expect_error(parse(R"("frequency_penalty": -3)"), "frequency_penalty", "between -2 and 2");
  expect_error(parse(R"("repetition_penalty": 0)"), "repetition_penalty", "greater than 0");
  expect_error(parse(R"("n": 0)"), "n", "between 1 and 128");
  expect_error(parse(R"("n": 1.5)"), "n", "expected an integer");
  expect_error(parse(R"("max_tokens": 0)"), "max_tokens", "between 1");
  expect_error(parse(R"("max_tokens": -5)"), "max_tokens", "between 1");
  expect_error(parse(R"("max_tokens": 1e12)"), "max_tokens", "between 1");
  expect_error(parse(R"("max_completion_tokens": "10")"), "max_completion_tokens", "expected an integer");
  expect_error(parse(R"("seed": "x")"), "seed", "expected an integer");
  expect_error(parse(R"("stream": "yes")"), "stream", "expected a boolean");
  expect_error(parse(R"("stream": true, "stream_options": {"include_usage": 1})"), "stream_options.include_usage",
               "boolean");
  expect_error(parse(R"("logprobs": 1)"), "logprobs", "boolean");
  expect_error(parse(R"("logprobs": true, "top_logprobs": 21)"), "top_logprobs", "between 0 and 20");
  expect_error(parse(R"("top_logprobs": 2)"), "top_logprobs", "needs logprobs");
  expect_error(parse(R"("user": 3)"), "user", "string");
  expect_error(parse(R"("min_tokens": -1)"), "min_tokens", "between 0");
  expect_error(parse(R"("max_tokens": 5, "min_tokens": 6)"), "min_tokens", "at most max_tokens");
  expect_error(parse(R"("cache_salt": "")"), "cache_salt", "non-empty");
  expect_error(parse(R"("ignore_eos": "true")"), "ignore_eos", "boolean");
}

TEST_F(ApiOpenAIChatRequest, StopStrings) {
  expect_error(parse(R"("stop": 5)"), "stop", "a string or an array of strings");
  expect_error(parse(R"("stop": ["a", 5])"), "stop[1]", "a string");
  expect_error(parse(R"("stop": [""])"), "stop[0]", "non-empty");
  std::string many = "[";
  for (size_t i = 0; i <= kMaxStopStrings; ++i) many += std::string(i ? "," : "") + "\"s" + std::to_string(i) + "\"";
  expect_error(parse("\"stop\": " + many + "]"), "stop", "at most 64");
  expect_error(parse("\"stop\": \"" + std::string(kMaxStopStringBytes + 1, 'x') + "\""), "stop", "at most 1024");
}

TEST_F(ApiOpenAIChatRequest, TokenIdsAreChecked) {
  expect_error(parse(R"("logit_bias": {"abc": 1})"), "logit_bias", "token ids");
  expect_error(parse(R"("logit_bias": {"263": 1})"), "logit_bias.263", "between 0 and 262");
  expect_error(parse(R"("logit_bias": {"-1": 1})"), "logit_bias.-1", "between 0 and 262");
  expect_error(parse(R"("logit_bias": {"5": 101})"), "logit_bias.5", "between -100 and 100");
  expect_error(parse(R"("logit_bias": {"5": "1"})"), "logit_bias.5", "a number");
  expect_error(parse(R"("logit_bias": [1])"), "logit_bias", "an object");
  expect_error(parse(R"("stop_token_ids": [1, 300])"), "stop_token_ids[1]", "between 0 and 262");
  expect_error(parse(R"("stop_token_ids": ["1"])"), "stop_token_ids[0]", "an integer");
}

TEST_F(ApiOpenAIChatRequest, ResponseFormat) {
  EXPECT_TRUE(parse(R"("response_format": {"type": "text"})").ok());
  for (const char* type : {"json_object", "json_schema"}) {
    auto r = parse(std::string(R"("response_format": {"type": ")") + type + R"(", "json_schema": {"name": "x"}})");
    expect_error(r, "response_format", "Structured output");
    EXPECT_NE(r.error().message.find("not supported yet"), std::string::npos);
  }
  expect_error(parse(R"("response_format": {"type": "yaml"})"), "response_format.type", "'yaml'");
  expect_error(parse(R"("response_format": "json")"), "response_format", "an object");
}

TEST_F(ApiOpenAIChatRequest, ModelAndMessagesAreRequired) {
  auto r = parse_chat_completion(Json::parse(R"({"messages": []})"), resolver_for(model_));
  expect_error(r, "model", "Missing required parameter: 'model'");
  r = parse_chat_completion(Json::parse(R"({"model": "gpt-4o", "messages": []})"), resolver_for(model_));
  expect_error(r, "model", "The model `gpt-4o` does not exist", 404);
  EXPECT_EQ(r.error().code, "model_not_found");
  r = parse_chat_completion(Json::parse(R"({"model": "tiny"})"), resolver_for(model_));
  expect_error(r, "messages", "Missing required parameter");
  expect_error(parse_messages("[]"), "messages", "non-empty");
  expect_error(parse_messages(R"({"role": "user"})"), "messages", "an array");
}

TEST_F(ApiOpenAIChatRequest, MessageShapes) {
  auto r = parse_messages(R"([
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "name": "ann", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"C\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "not json"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "22"},
    {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}], "reasoning_content": "hmm"}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(
      dump(r->prompt.messages),
      R"([{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Hello\nthere","name":"ann"},)"
      R"({"role":"assistant","content":"","tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","unit":"C"}}},)"
      R"({"id":"call_2","type":"function","function":{"name":"broken","arguments":"not json"}}]},)"
      R"({"role":"tool","content":"22","tool_call_id":"call_1"},)"
      R"({"role":"assistant","content":"No.","reasoning_content":"hmm"}])");
}

TEST_F(ApiOpenAIChatRequest, DeeplyNestedArgumentsStayAString) {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  auto r = parse_messages(R"([{"role": "assistant", "tool_calls": [{"type": "function",
      "function": {"name": "f", "arguments": ")" +
                          deep + R"("}}]}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prompt.messages[0]["tool_calls"][0]["function"]["arguments"], deep);
}

TEST_F(ApiOpenAIChatRequest, MessageErrors) {
  expect_error(parse_messages(R"([{"role": "wizard", "content": "x"}])"), "messages[0].role", "'wizard'");
  expect_error(parse_messages(R"([{"content": "x"}])"), "messages[0].role", "Missing required");
  expect_error(parse_messages(R"([{"role": "user"}])"), "messages[0].content", "Missing required");
  expect_error(parse_messages(R"([{"role": "user", "content": 5}])"), "messages[0].content",
               "a string or an array of content parts");
  expect_error(parse_messages(R"(["hi"])"), "messages[0]", "an object");
  expect_error(parse_messages(R"([{"role": "tool", "content": "x"}])"), "messages[0].tool_call_id", "Missing required");
  expect_error(parse_messages(R"([{"role": "user", "content": [{"type": "text"}]}])"), "messages[0].content[0].text",
               "Missing required");
  expect_error(parse_messages(R"([{"role": "user", "content": [{"type": "video"}]}])"), "messages[0].content[0].type",
               "'video'");
  expect_error(parse_messages(R"([{"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]}])"),
               "messages[0].tool_calls[0].function.name", "Missing required");
  expect_error(
      parse_messages(R"([{"role": "assistant", "tool_calls": [{"type": "code", "function": {"name": "f"}}]}])"),
      "messages[0].tool_calls[0].type", "'code'");
}

TEST_F(ApiOpenAIChatRequest, ImagePartsAreAClear400) {
  auto r = parse_messages(
      R"([{"role": "user", "content": [{"type": "text", "text": "What is this?"},
          {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])");
  expect_error(r, "messages[0].content[1]", "Image inputs are not supported yet");
  expect_error(parse_messages(R"([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}])"),
               "messages[0].content[0]", "not supported yet");
}

TEST_F(ApiOpenAIChatRequest, ToolsAndToolChoice) {
  const std::string tools =
      R"("tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])";
  auto r = parse(tools);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prompt.tools.size(), 1u);
  EXPECT_EQ(r->prompt.tools[0]["function"]["name"], "get_weather");
  // Key order is the client's.
  EXPECT_EQ(dump(r->prompt.tools[0]["function"]["parameters"]),
            R"({"type":"object","properties":{"city":{"type":"string"}}})");
  for (const char* choice : {R"("auto")", R"("required")", R"({"type": "function", "function": {"name": "f"}})"}) {
    r = parse(tools + ", \"tool_choice\": " + choice);
    ASSERT_TRUE(r.ok()) << choice;
    EXPECT_FALSE(r->prompt.tools.is_null()) << choice;
  }
  r = parse(tools + R"(, "tool_choice": "none")");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->prompt.tools.is_null());
  expect_error(parse(tools + R"(, "tool_choice": "always")"), "tool_choice", "'always'");
  expect_error(parse(R"("tool_choice": {"type": "function"})"), "tool_choice.function", "Missing required");
  expect_error(parse(R"("tools": [{"type": "function", "function": {"description": "x"}}])"), "tools[0].function.name",
               "Missing required");
  expect_error(parse(R"("tools": [{"type": "retrieval"}])"), "tools[0].type", "'retrieval'");
  expect_error(parse(R"("tools": {"a": 1})"), "tools", "an array");
}

TEST_F(ApiOpenAIChatRequest, TemplateControls) {
  auto r = parse_messages(
      R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "continue_final_message": true)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->prompt.continue_final_message);
  EXPECT_FALSE(r->prompt.add_generation_prompt);
  expect_error(parse(R"("continue_final_message": true)"), "continue_final_message", "assistant");
  expect_error(
      parse_messages(
          R"([{"role": "assistant", "content": "x"}], "continue_final_message": true, "add_generation_prompt": true)"),
      "continue_final_message", "cannot both be true");
  r = parse(R"("add_generation_prompt": false)");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->prompt.add_generation_prompt);
  expect_error(parse(R"("chat_template_kwargs": [1])"), "chat_template_kwargs", "an object");
  expect_error(parse(R"("chat_template_kwargs": {"messages": []})"), "chat_template_kwargs", "'messages'");
  expect_error(parse(R"("chat_template": "{{ 1 }}")"), "chat_template", "not accepted");
  expect_error(parse(R"("echo": true)"), "echo", "not supported");
  EXPECT_TRUE(parse(R"("echo": false)").ok());
}

TEST_F(ApiOpenAIChatRequest, PrepareRendersTokenizesAndFits) {
  auto r = prepare_chat_completion(
      R"({"model": "tiny", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hello"}]})",
      resolver_for(model_));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::vector<int32_t> expected =
      model_.tokenizer->encode("<|system|>S<|end|><|user|>hello<|end|><|assistant|>", false, true);
  EXPECT_EQ(r->generation.prompt, expected);
  EXPECT_NE(std::find(expected.begin(), expected.end(), 261), expected.end());        // <|end|> parsed as special
  EXPECT_EQ(r->generation.max_tokens, 4096 - static_cast<int32_t>(expected.size()));  // no max_tokens: the rest
  EXPECT_EQ(r->id.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r->id.size(), 9u + 24u);
  EXPECT_GT(r->created, 1600000000);
}

TEST_F(ApiOpenAIChatRequest, ContextLimits) {
  ServedModel small = tiny_model(/*max_model_len=*/40);
  const std::string ok = R"({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000})";
  auto r = prepare_chat_completion(ok, resolver_for(small));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->generation.max_tokens, 40 - static_cast<int32_t>(r->generation.prompt.size()));  // clamped
  r = prepare_chat_completion(
      R"({"model": "tiny", "messages": [{"role": "user", "content": ")" + std::string(100, 'x') + R"("}]})",
      resolver_for(small));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().code, "context_length_exceeded");
  EXPECT_EQ(r.error().param, "messages");
  EXPECT_EQ(r.error().message.rfind("This model's maximum context length is 40 tokens. However, your request has ", 0),
            0u);
  EXPECT_NE(r.error().message.find(" input tokens. Please reduce the length of the input messages."),
            std::string::npos);
}

TEST_F(ApiOpenAIChatRequest, PrepareReportsBadJsonAndTemplateErrors) {
  auto r = prepare_chat_completion("{not json", resolver_for(model_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
  ServedModel no_template = tiny_model();
  no_template.chat_template.reset();
  r = prepare_chat_completion(R"({"model": "tiny", "messages": [{"role": "user", "content": "hi"}]})",
                              resolver_for(no_template));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("has no chat template"), std::string::npos);
  ServedModel raising = tiny_model();
  raising.chat_template = *tokenizer::chat::Template::parse("{{ raise_exception('Roles must alternate') }}");
  r = prepare_chat_completion(R"({"model": "tiny", "messages": [{"role": "user", "content": "hi"}]})",
                              resolver_for(raising));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().message, "Roles must alternate");
}

class ApiOpenAICompletionRequest : public ApiOpenAIChatRequest {
 protected:
  ApiResult<CompletionRequest> parse_completion_body(const std::string& fields) {
    return parse_completion(Json::parse(R"({"model": "tiny", )" + fields + "}"), resolver_for(model_));
  }
  ApiResult<CompletionRequest> prepare(const std::string& fields, const ServedModel& model) {
    return prepare_completion(R"({"model": "tiny", )" + fields + "}", resolver_for(model));
  }
};

TEST_F(ApiOpenAICompletionRequest, PromptForms) {
  auto r = parse_completion_body(R"("prompt": "hello world")");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_text, "hello world");
  EXPECT_FALSE(r->prompt_is_tokens);
  r = parse_completion_body(R"("prompt": ["hello"])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_text, "hello");
  r = parse_completion_body(R"("prompt": [104, 101, 259])");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->prompt_is_tokens);
  EXPECT_EQ(r->prompt_token_ids, (std::vector<int32_t>{104, 101, 259}));
  r = parse_completion_body(R"("prompt": [[1, 2]])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(echo_text(*r), "\x01\x02");
}

TEST_F(ApiOpenAICompletionRequest, PromptErrors) {
  auto r = parse_completion_body(R"("prompt": ["a", "b"])");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "prompt");
  EXPECT_NE(r.error().message.find("Several prompts"), std::string::npos);
  EXPECT_FALSE(parse_completion_body(R"("prompt": [[1], [2]])").ok());
  EXPECT_EQ(parse_completion_body(R"("prompt": [1, 263])").error().param, "prompt");
  EXPECT_EQ(parse_completion_body(R"("prompt": [1, -1])").error().param, "prompt");
  EXPECT_EQ(parse_completion_body(R"("prompt": 5)").error().code, "invalid_type");
  EXPECT_EQ(parse_completion_body(R"("prompt": "")").error().code, "invalid_value");
  EXPECT_EQ(parse_completion_body(R"("prompt": [])").error().code, "invalid_type");
  EXPECT_EQ(parse_completion(Json::parse(R"({"model": "tiny"})"), resolver_for(model_)).error().message,
            "Missing required parameter: 'prompt'.");
}

TEST_F(ApiOpenAICompletionRequest, LogprobsEchoSuffix) {
  auto r = parse_completion_body(R"("prompt": "x", "logprobs": 3, "temperature": 0, "stop": "\n")");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.sampling.num_logprobs, 3);
  EXPECT_EQ(r->generation.sampling.temperature, 0.0f);
  EXPECT_EQ(r->generation.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(parse_completion_body(R"("prompt": "x", "logprobs": 6)").error().param, "logprobs");
  EXPECT_EQ(parse_completion_body(R"("prompt": "x", "logprobs": true)").error().param, "logprobs");
  r = parse_completion_body(R"("prompt": "x", "echo": true)");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->echo);
  EXPECT_EQ(parse_completion_body(R"("prompt": "x", "echo": true, "logprobs": 1)").error().param, "echo");
  EXPECT_EQ(parse_completion_body(R"("prompt": "x", "suffix": "end")").error().param, "suffix");
  EXPECT_TRUE(parse_completion_body(R"("prompt": "x", "suffix": "")").ok());
  EXPECT_EQ(parse_completion_body(R"("prompt": "x", "best_of": 2)").error().param, "best_of");
  EXPECT_EQ(parse_completion_body(R"("prompt": "x", "response_format": {"type": "json_object"})").error().param,
            "response_format");
}

TEST_F(ApiOpenAICompletionRequest, PrepareTokenizesWithDefaults) {
  auto r = prepare(R"("prompt": "hello<|end|>")", model_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->generation.prompt, (std::vector<int32_t>{259, 261}));  // special tokens in the text are parsed
  EXPECT_EQ(r->generation.max_tokens, 16);                            // the legacy API's default
  EXPECT_EQ(r->id.rfind("cmpl-", 0), 0u);
  r = prepare(R"("prompt": [1, 2, 3], "max_tokens": 100)", model_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.prompt, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r->generation.max_tokens, 100);
  ServedModel small = tiny_model(10);
  r = prepare(R"("prompt": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])", small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "prompt");
  EXPECT_EQ(r.error().message,
            "This model's maximum context length is 10 tokens. However, your request has 10 input tokens. Please "
            "reduce the length of the input messages.");
  r = prepare(R"("prompt": [1, 2, 3, 4, 5, 6, 7, 8, 9])", small);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.max_tokens, 1);
}

}  // namespace
}  // namespace tessera::server::api::openai
