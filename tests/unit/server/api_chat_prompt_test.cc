// Chat requests of both APIs rendered through real chat templates and tokenized by real tokenizers: the default
// model's own template, and shared-asset templates (Qwen2.5 with tools, Mistral Nemo's alternation rule).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "../test_util.h"
#include "tessera/server/api/anthropic/messages_request.h"
#include "tessera/server/api/chat_prompt.h"
#include "tessera/server/api/openai/chat_request.h"

namespace tessera::server::api {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ModelResolver resolver_for(const ServedModel& model) {
  return [&model](std::string_view) { return &model; };  // any name: the glue's lenient policy
}

// A model from the shared assets: a tokenizer folder and a template file.
std::optional<ServedModel> asset_model(const std::string& tokenizer_name, const std::string& template_name) {
  const std::string dir = tessera::testing::assets_dir() + "/tokenizers/" + tokenizer_name;
  auto tok = tokenizer::Tokenizer::from_hf_json(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
  auto tmpl = tokenizer::chat::Template::parse(
      read_text(tessera::testing::assets_dir() + "/templates/" + template_name + ".jinja"));
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_TRUE(tmpl.ok()) << tmpl.status().to_string();
  if (!tok.ok() || !tmpl.ok()) return std::nullopt;
  ServedModel m;
  m.name = template_name;
  m.tokenizer = *tok;
  m.chat_template = *tmpl;
  m.max_model_len = 32768;
  return m;
}

TEST(ApiChatPrompt, DefaultModelTemplateAndTokens) {
  const std::string path = tessera::testing::default_model_path();
  TESSERA_REQUIRE_FILE(path);
  auto tok = tokenizer::Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  ServedModel model;
  model.name = "SmolLM2-135M-Instruct";
  model.tokenizer = *tok;
  auto tmpl = tokenizer::chat::Template::parse((*tok)->chat_template());
  ASSERT_TRUE(tmpl.ok());
  model.chat_template = *tmpl;
  model.max_model_len = 8192;

  auto req = openai::prepare_chat_completion(
      R"({"model": "m", "messages": [{"role": "system", "content": "You are terse."},
          {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]})",
      resolver_for(model));
  ASSERT_TRUE(req.ok()) << req.error().message;
  auto rendered = render_chat_prompt(req->prompt, model);
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->text,
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?"
            "<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<int32_t>& ids = req->generation.prompt;
  EXPECT_EQ(ids, (*tok)->encode(rendered->text, false, true));
  ASSERT_TRUE((*tok)->token_id("<|im_start|>").has_value());
  EXPECT_EQ(ids.front(), *(*tok)->token_id("<|im_start|>"));  // the template's markers are single special tokens
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *(*tok)->token_id("<|im_end|>")), 2);
  EXPECT_EQ(req->generation.max_tokens, 8192 - static_cast<int32_t>(ids.size()));

  // The same conversation through the Anthropic API, with Claude Code's billing line, gives the same tokens.
  auto msg = anthropic::prepare_messages(
      R"({"model": "claude-sonnet-4-5", "max_tokens": 64,
          "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.3.a1b; cc_entrypoint=cli; cch=5e3f1;"},
                     {"type": "text", "text": "You are terse."}],
          "messages": [{"role": "user", "content": "What is the capital of France?"}]})",
      resolver_for(model));
  ASSERT_TRUE(msg.ok()) << msg.error().message;
  EXPECT_EQ(msg->generation.prompt, ids);
  EXPECT_EQ(msg->generation.max_tokens, 64);
  auto counted = anthropic::count_tokens(
      R"({"model": "m", "system": "You are terse.", "messages": [{"role": "user", "content": "What is the capital of France?"}]})",
      resolver_for(model));
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ((*counted)["input_tokens"], ids.size());
}

TEST(ApiChatPrompt, ToolConversationsOfBothApisRenderAlikeWithQwenTemplate) {
  TESSERA_REQUIRE_FILE(tessera::testing::assets_dir() + "/tokenizers/qwen3/tokenizer.json");
  std::optional<ServedModel> model = asset_model("qwen3", "Qwen-Qwen2.5-7B-Instruct");
  ASSERT_TRUE(model);
  const std::string tool =
      R"({"name": "get_weather", "description": "Current weather", "input_schema": {"type": "object",
          "properties": {"city": {"type": "string"}}, "required": ["city"]}})";
  auto anthropic_req =
      anthropic::prepare_messages(R"({"model": "m", "max_tokens": 100, "tools": [)" + tool + R"(], "messages": [
          {"role": "user", "content": "Weather in Paris?"},
          {"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C"}]}]})",
                                  resolver_for(*model));
  ASSERT_TRUE(anthropic_req.ok()) << anthropic_req.error().message;
  auto text = render_chat_prompt(anthropic_req->prompt, *model);
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->text.find(R"({"type": "function", "function": {"name": "get_weather", "description": )"
                            R"("Current weather", "parameters": {"type": "object", "properties": {"city": {"type": )"
                            R"("string"}}, "required": ["city"]}}})"),
            std::string::npos)
      << text->text;
  EXPECT_NE(text->text.find("<|im_start|>assistant\nLet me check.\n<tool_call>\n{\"name\": \"get_weather\", "
                            "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
                            "<|im_start|>user\n<tool_response>\n18C\n</tool_response><|im_end|>\n"
                            "<|im_start|>assistant\n"),
            std::string::npos)
      << text->text;

  // The OpenAI form of the same conversation (arguments as a JSON string) renders the same prompt.
  auto openai_req = openai::prepare_chat_completion(
      R"({"model": "m", "tools": [{"type": "function", "function": {"name": "get_weather", "description":
          "Current weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
          "required": ["city"]}}}], "messages": [
          {"role": "user", "content": "Weather in Paris?"},
          {"role": "assistant", "content": "Let me check.", "tool_calls": [{"id": "toolu_01", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
          {"role": "tool", "tool_call_id": "toolu_01", "content": "18C"}]})",
      resolver_for(*model));
  ASSERT_TRUE(openai_req.ok()) << openai_req.error().message;
  EXPECT_EQ(openai_req->generation.prompt, anthropic_req->generation.prompt);
}

TEST(ApiChatPrompt, ContinueFinalMessageWithQwenTemplate) {
  TESSERA_REQUIRE_FILE(tessera::testing::assets_dir() + "/tokenizers/qwen3/tokenizer.json");
  std::optional<ServedModel> model = asset_model("qwen3", "Qwen-Qwen2.5-7B-Instruct");
  ASSERT_TRUE(model);
  auto req = anthropic::prepare_messages(
      R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Count to 5"},
          {"role": "assistant", "content": "1, 2, 3,"}]})",
      resolver_for(*model));
  ASSERT_TRUE(req.ok()) << req.error().message;
  EXPECT_TRUE(model->tokenizer->decode(req->generation.prompt).ends_with("<|im_start|>assistant\n1, 2, 3,"));
}

TEST(ApiChatPrompt, TemplateExceptionsAreTheClientsError) {
  TESSERA_REQUIRE_FILE(tessera::testing::assets_dir() + "/tokenizers/mistral-7b-v0.1/tokenizer.json");
  std::optional<ServedModel> model = asset_model("mistral-7b-v0.1", "mistralai-Mistral-Nemo-Instruct-2407");
  ASSERT_TRUE(model);
  const std::string two_user_turns = R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])";
  auto openai_req =
      openai::prepare_chat_completion(R"({"model": "m", "messages": )" + two_user_turns + "}", resolver_for(*model));
  ASSERT_FALSE(openai_req.ok());
  EXPECT_EQ(openai_req.error().http_status, 400);
  EXPECT_EQ(openai_req.error().message,
            "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...");
  // Anthropic merges consecutive turns of one role, so the same conversation renders.
  auto anthropic_req = anthropic::prepare_messages(
      R"({"model": "m", "max_tokens": 10, "messages": )" + two_user_turns + "}", resolver_for(*model));
  ASSERT_TRUE(anthropic_req.ok()) << anthropic_req.error().message;
  auto rendered = render_chat_prompt(anthropic_req->prompt, *model);
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->text, "<s>[INST]a\nb[/INST]");
  EXPECT_EQ(anthropic_req->generation.prompt.front(), 1);  // <s>, written by the template, parsed as BOS
}

}  // namespace
}  // namespace tessera::server::api
