// Chat templates: parse a Jinja template once, render it many times, with the semantics of Hugging Face
// transformers' environment (Jinja2 ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
// json.dumps-style tojson, raise_exception, strftime_now, {% generation %}). Output matches Python byte for byte
// on the templates in tests/fixtures/templates.
//
// Thread safety: a Template is immutable after parse(); any number of threads may render it at once.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/util/status.h"

namespace tessera::tokenizer::chat {

struct Stmt;

struct RenderOptions {
  size_t max_output_bytes = 64u << 20;  // bound on the output and on every string built on the way
  int64_t max_steps = 20'000'000;       // loop iterations + macro calls + list items built
  int max_call_depth = 128;             // nested macro calls (each costs stack)
  // What strftime_now() returns; the current local time when empty. Set it for reproducible output.
  std::optional<std::tm> now;
};

// Errors of render(): every one is a Status with code kInvalidArgument (a template or request problem, HTTP
// 400), except limits, which are kResourceExhausted. A raise_exception(msg) call has the message
// "raise_exception: msg"; is_raised() tells it apart and raised_message() returns msg.
inline constexpr std::string_view kRaisedPrefix = "raise_exception: ";
bool is_raised(const Status& status);
std::string_view raised_message(const Status& status);

class Template {
 public:
  // Fails with kInvalidArgument ("template syntax error: line N: ...") when the source does not parse, or names a
  // filter or test that does not exist outside an `if` block (Jinja2 rejects those at compile time too).
  static Expected<Template> parse(std::string_view source);

  // The keys of `context` (a JSON object) become the template's variables, in their JSON key order.
  Expected<std::string> render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

 private:
  struct Body;
  std::shared_ptr<const Body> body_;
};

// What transformers' apply_chat_template passes: messages, tools (null when none), add_generation_prompt,
// bos_token, eos_token, then every key of `extra` (enable_thinking, reasoning_effort, ...; they win on clashes).
Expected<std::string> render_chat(const Template& tmpl, const nlohmann::ordered_json& messages,
                                  const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                  std::string_view bos_token, std::string_view eos_token,
                                  const nlohmann::ordered_json& extra = nlohmann::ordered_json::object(),
                                  const RenderOptions& options = {});

}  // namespace tessera::tokenizer::chat
