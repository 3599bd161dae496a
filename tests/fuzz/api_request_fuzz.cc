// libFuzzer target for the request path of both APIs: the first byte picks the endpoint, the rest is the body,
// which goes through parsing, validation, chat-template rendering, tokenization and the context check exactly as
// the server's glue calls them. Every outcome must be a value or an ApiError; a crash, a sanitizer report or an
// uncaught exception is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../unit/tokenizer/tiny_tokenizers.h"
#include "tessera/server/api/anthropic/messages_request.h"
#include "tessera/server/api/openai/chat_request.h"
#include "tessera/server/api/openai/completion_request.h"

namespace {

using namespace tessera::server::api;

const ServedModel& model() {
  static const ServedModel m = [] {
    ServedModel s;
    s.name = "tiny";
    s.tokenizer = tessera::tokenizer::testing::tiny_byte_level();
    // Touches what real templates touch: roles, content, tool calls and their arguments, tools, the flags.
    auto t = tessera::tokenizer::chat::Template::parse(
        "{%- for m in messages %}<|{{ m.role }}|>{{ m.content }}"
        "{%- for c in m.tool_calls or [] %}{{ c.function.name }}{{ c.function.arguments | tojson }}{% endfor %}"
        "{%- if m.tool_call_id %}{{ m.tool_call_id }}{% endif %}<|end|>{% endfor %}"
        "{%- if tools %}{{ tools | tojson }}{% endif %}{% if add_generation_prompt %}<|assistant|>{% endif %}");
    if (t.ok()) s.chat_template = *t;
    s.max_model_len = 256;
    return s;
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const ModelResolver resolve = [](std::string_view) { return &model(); };
  switch (data[0] % 4) {
    case 0:
      (void)openai::prepare_chat_completion(body, resolve);
      break;
    case 1:
      (void)openai::prepare_completion(body, resolve);
      break;
    case 2:
      (void)anthropic::prepare_messages(body, resolve);
      break;
    default:
      (void)anthropic::count_tokens(body, resolve);
      break;
  }
  return 0;
}
