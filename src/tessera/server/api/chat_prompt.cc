#include "tessera/server/api/chat_prompt.h"

namespace tessera::server::api {
namespace {

std::string_view strip(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// transformers' continue_final_message: cut the rendered text right after the last occurrence of the final
// message's (stripped) content, which drops the end-of-turn marker the template wrote after it.
ApiResult<std::string> cut_after_final_message(std::string text, const Json& messages) {
  const Json& last = messages.back();
  const auto content = last.find("content");
  const std::string_view final_content =
      content != last.end() && content->is_string() ? strip(content->get_ref<const std::string&>()) : "";
  if (final_content.empty()) return text;
  const size_t at = text.rfind(final_content);
  if (at == std::string::npos)
    return invalid_request(
        "continue_final_message is set, but the final message does not appear in the prompt the chat template "
        "rendered; this template cannot continue a message.",
        "continue_final_message");
  text.resize(at + final_content.size());
  return text;
}

}  // namespace

ApiResult<RenderedPrompt> render_chat_prompt(const ChatPrompt& prompt, const ServedModel& model) {
  if (!model.chat_template)
    return invalid_request("The model `" + model.name +
                           "` has no chat template, so it cannot serve chat requests; use the completions "
                           "endpoint, or start the server with --chat-template.");
  if (prompt.messages.empty()) return invalid_request("'messages' must not be empty.", "messages");
  const tokenizer::Tokenizer& tok = *model.tokenizer;
  Expected<std::string> text =
      tokenizer::chat::render_chat(*model.chat_template, prompt.messages, prompt.tools,
                                   prompt.add_generation_prompt && !prompt.continue_final_message, tok.bos_token(),
                                   tok.eos_token(), prompt.template_kwargs);
  if (!text.ok()) {
    const Status& s = text.status();
    if (tokenizer::chat::is_raised(s))
      return invalid_request(std::string(tokenizer::chat::raised_message(s)), "messages");
    if (s.code() == StatusCode::kResourceExhausted)
      return invalid_request(
          "The conversation is too large for the chat template to render: " + std::string(s.message()), "messages");
    return invalid_request("The chat template failed on this conversation: " + std::string(s.message()), "messages");
  }
  RenderedPrompt out;
  if (prompt.continue_final_message) {
    ApiResult<std::string> cut = cut_after_final_message(std::move(*text), prompt.messages);
    if (!cut.ok()) return cut.error();
    out.text = std::move(*cut);
  } else {
    out.text = std::move(*text);
  }
  // As tessera chat and transformers' apply_chat_template(tokenize=True): the template wrote the special tokens.
  out.token_ids = tok.encode(out.text, /*add_special=*/false, /*parse_special=*/true);
  if (out.token_ids.empty()) return invalid_request("The chat template rendered an empty prompt.", "messages");
  return out;
}

}  // namespace tessera::server::api
