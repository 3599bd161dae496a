#include "tessera/tokenizer/chat/template.h"

#include <new>

#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/lexer.h"
#include "tessera/tokenizer/chat/parser.h"
#include "tessera/tokenizer/chat/renderer.h"

namespace tessera::tokenizer::chat {

struct Template::Body {
  StmtList stmts;
};

namespace {

Status to_status(const TemplateError& e) {
  const std::string where = e.line() > 0 ? "line " + std::to_string(e.line()) + ": " : "";
  switch (e.kind()) {
    case ErrorKind::kRaised:
      return invalid_argument(std::string(kRaisedPrefix) + e.message());
    case ErrorKind::kSyntax:
      return invalid_argument("template syntax error: " + where + e.message());
    case ErrorKind::kLimit:
      return resource_exhausted("template: " + where + e.message());
    default:
      return invalid_argument("template error: " + where + e.message());
  }
}

}  // namespace

bool is_raised(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument &&
         status.message().substr(0, kRaisedPrefix.size()) == kRaisedPrefix;
}

std::string_view raised_message(const Status& status) {
  return is_raised(status) ? status.message().substr(kRaisedPrefix.size()) : std::string_view();
}

Expected<Template> Template::parse(std::string_view source) {
  try {
    auto body = std::make_shared<Body>();
    body->stmts = parse_template(tokenize(source));
    Template t;
    t.body_ = std::move(body);
    return t;
  } catch (const TemplateError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("template: out of memory while parsing");
  }
}

Expected<std::string> Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!body_) return invalid_argument("template: render() on an empty Template");
  if (!context.is_object()) return invalid_argument("template: the context must be a JSON object");
  RenderSettings settings;
  settings.limits.max_output_bytes = options.max_output_bytes;
  settings.limits.max_steps = options.max_steps;
  settings.limits.max_call_depth = options.max_call_depth;
  settings.now = options.now;
  try {
    Renderer renderer(settings, from_json(context));
    return renderer.render(body_->stmts);
  } catch (const TemplateError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("template: out of memory while rendering");
  } catch (const std::exception& e) {
    return invalid_argument(std::string("template error: ") + e.what());
  }
}

Expected<std::string> render_chat(const Template& tmpl, const nlohmann::ordered_json& messages,
                                  const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                  std::string_view bos_token, std::string_view eos_token,
                                  const nlohmann::ordered_json& extra, const RenderOptions& options) {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = messages;
  context["tools"] = tools;
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = std::string(bos_token);
  context["eos_token"] = std::string(eos_token);
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) context[k] = v;
  return tmpl.render(context, options);
}

}  // namespace tessera::tokenizer::chat
