// libFuzzer target for the chat-template lexer, parser and renderer. Every input is parsed; one that parses is
// rendered against a small chat context under tight limits, so that hangs and runaway memory show up as limit
// errors, never as timeouts. Any crash, sanitizer report or uncaught exception is a bug.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "tessera/tokenizer/chat/template.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": [{"type": "text", "text": "Hi é 😀"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "abcXYZ123", "type": "function",
        "function": {"name": "get_weather", "arguments": {"location": "Paris", "n": [1, 2.5, true, null]}}}]},
      {"role": "tool", "tool_call_id": "abcXYZ123", "content": "18C"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"location": {"type": "string"}}, "required": ["location"]}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tmpl = tessera::tokenizer::chat::Template::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!tmpl.ok()) return 0;
  tessera::tokenizer::chat::RenderOptions options;
  options.max_steps = 100'000;
  options.max_output_bytes = 1 << 20;
  options.max_call_depth = 24;
  std::tm now{};
  now.tm_year = 125;
  options.now = now;
  auto out = tmpl->render(context(), options);
  if (out.ok() && out->size() > options.max_output_bytes) __builtin_trap();
  return 0;
}
