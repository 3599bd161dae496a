#include "tessera/server/api/anthropic/messages_request.h"

#include "tessera/server/api/anthropic/billing_header.h"
#include "tessera/server/api/field_reader.h"
#include "tessera/server/api/response_id.h"

namespace tessera::server::api::anthropic {
namespace {

std::string at(std::string_view prefix, size_t i) { return std::string(prefix) + "." + std::to_string(i); }

void join(std::string& text, std::string_view more) {
  if (more.empty()) return;
  if (!text.empty()) text += '\n';
  text += more;
}

ApiError unsupported_block(const std::string& path, std::string_view type) {
  if (type == "image" || type == "document")
    return not_supported(path + ": " + std::string(type) +
                             " content blocks are not supported yet; images and documents cannot be sent to this "
                             "server. Send text content only.",
                         path);
  return invalid_value(path + ".type", "a supported content block type (text, tool_use, tool_result)",
                       "'" + std::string(type) + "'");
}

// A block's "type" and, for text blocks, its "text".
bool read_block(FieldReader& r, const Json& block, const std::string& path, std::string& type, std::string& text) {
  if (!block.is_object()) {
    r.fail(invalid_type(path, "an object", json_type_name(block)));
    return false;
  }
  FieldReader b(block, path + ".");
  if (b.require("type") && b.string("type", type) && type == "text") b.require("text") && b.string("text", text);
  if (!b.ok()) r.fail(b.error());
  return r.ok();
}

// Anthropic merges consecutive turns of one role into one; so do we, for templates that require alternation.
void append_message(Json& messages, Json message) {
  if (!messages.empty()) {
    Json& last = messages.back();
    const std::string& role = message["role"].get_ref<const std::string&>();
    if (last["role"] == role && (role == "user" || role == "assistant")) {
      std::string content = last["content"].get<std::string>();
      join(content, message["content"].get_ref<const std::string&>());
      last["content"] = std::move(content);
      if (message.contains("tool_calls")) {
        if (!last.contains("tool_calls")) last["tool_calls"] = Json::array();
        for (auto& call : message["tool_calls"]) last["tool_calls"].push_back(std::move(call));
      }
      return;
    }
  }
  messages.push_back(std::move(message));
}

Json text_message(std::string_view role, std::string text) {
  Json m = Json::object();
  m["role"] = role;
  m["content"] = std::move(text);
  return m;
}

// A tool_result's content: a string, or text blocks (joined).
void read_tool_result(FieldReader& r, const Json& block, const std::string& path, Json& messages) {
  FieldReader b(block, path + ".");
  std::string tool_use_id, content;
  b.require("tool_use_id") && b.string("tool_use_id", tool_use_id);
  if (const Json* c = b.get("content"); c && b.ok()) {
    if (c->is_string()) {
      content = c->get<std::string>();
    } else if (!c->is_array()) {
      b.fail(invalid_type(path + ".content", "a string or an array of content blocks", json_type_name(*c)));
    } else {
      for (size_t i = 0; i < c->size() && b.ok(); ++i) {
        std::string type, text;
        if (!read_block(b, (*c)[i], at(path + ".content", i), type, text)) break;
        if (type != "text") b.fail(unsupported_block(at(path + ".content", i), type));
        join(content, text);
      }
    }
  }
  if (!b.ok()) return r.fail(b.error());
  Json m = Json::object();
  m["role"] = "tool";
  m["tool_call_id"] = tool_use_id;
  m["content"] = std::move(content);
  messages.push_back(std::move(m));
}

Json read_tool_use(FieldReader& r, const Json& block, const std::string& path) {
  FieldReader b(block, path + ".");
  std::string id, name;
  const Json* input = nullptr;
  b.require("id") && b.string("id", id);
  b.require("name") && b.string("name", name);
  b.object("input", input);
  if (!b.ok()) {
    r.fail(b.error());
    return nullptr;
  }
  Json call = Json::object();
  call["id"] = id;
  call["type"] = "function";
  call["function"] = Json{{"name", name}, {"arguments", input ? *input : Json::object()}};
  return call;
}

void read_message(FieldReader& r, const Json& message, size_t index, Json& messages) {
  const std::string path = at("messages", index);
  if (!message.is_object()) return r.fail(invalid_type(path, "an object", json_type_name(message)));
  FieldReader m(message, path + ".");
  std::string role;
  if (m.require("role") && m.string("role", role) && role != "user" && role != "assistant")
    m.fail(invalid_value(path + ".role", "'user' or 'assistant' (the system prompt goes in the top-level 'system')",
                         "'" + role + "'"));
  m.require("content");
  if (!m.ok()) return r.fail(m.error());
  const Json& content = *m.get("content");
  if (content.is_string()) return append_message(messages, text_message(role, content.get<std::string>()));
  if (!content.is_array())
    return r.fail(invalid_type(path + ".content", "a string or an array of content blocks", json_type_name(content)));

  std::string text;
  Json tool_calls = Json::array();
  for (size_t i = 0; i < content.size() && r.ok(); ++i) {
    const std::string block_path = at(path + ".content", i);
    std::string type, block_text;
    if (!read_block(r, content[i], block_path, type, block_text)) return;
    if (type == "text") {
      join(text, block_text);
    } else if (type == "tool_result" && role == "user") {
      if (!text.empty()) append_message(messages, text_message(role, std::exchange(text, "")));
      read_tool_result(r, content[i], block_path, messages);
    } else if (type == "tool_use" && role == "assistant") {
      tool_calls.push_back(read_tool_use(r, content[i], block_path));
    } else if ((type == "thinking" || type == "redacted_thinking") && role == "assistant") {
      continue;
    } else if (type == "tool_use" || type == "tool_result" || type == "thinking" || type == "redacted_thinking") {
      r.fail(invalid_value(block_path + ".type", "a block a " + role + " message may hold", "'" + type + "'"));
    } else {
      r.fail(unsupported_block(block_path, type));
    }
  }
  if (!r.ok()) return;
  // A user turn that was only tool results adds no user message.
  if (role == "user" && text.empty() && !messages.empty() && messages.back()["role"] == "tool") return;
  Json out = text_message(role, std::move(text));
  if (!tool_calls.empty()) out["tool_calls"] = std::move(tool_calls);
  append_message(messages, std::move(out));
}

void read_system(FieldReader& r, Json& messages) {
  const Json* system = r.get("system");
  if (!system || !r.ok()) return;
  std::string text;
  if (system->is_string()) {
    text = drop_billing_header(system->get_ref<const std::string&>());
  } else if (system->is_array()) {
    for (size_t i = 0; i < system->size() && r.ok(); ++i) {
      std::string type, block_text;
      if (!read_block(r, (*system)[i], at("system", i), type, block_text)) return;
      if (type != "text") return r.fail(invalid_value(at("system", i) + ".type", "'text'", "'" + type + "'"));
      join(text, drop_billing_header(block_text));
    }
  } else {
    return r.fail(invalid_type("system", "a string or an array of text blocks", json_type_name(*system)));
  }
  if (!text.empty()) messages.push_back(text_message("system", std::move(text)));
}

void read_tools(FieldReader& r, ChatPrompt& prompt) {
  const Json* tools = nullptr;
  if (!r.array("tools", tools)) return;
  Json out = Json::array();
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string path = at("tools", i);
    if (!(*tools)[i].is_object()) return r.fail(invalid_type(path, "an object", json_type_name((*tools)[i])));
    FieldReader t((*tools)[i], path + ".");
    std::string type = "custom", name, description;
    const Json* schema = nullptr;
    t.string("type", type);
    if (type != "custom") continue;  // a server tool (web search, code execution): nothing here runs it
    t.require("name") && t.string("name", name);
    t.string("description", description);
    t.require("input_schema") && t.object("input_schema", schema);
    if (!t.ok()) return r.fail(t.error());
    Json function = Json::object();
    function["name"] = name;
    if (!description.empty()) function["description"] = description;
    function["parameters"] = *schema;
    out.push_back(Json{{"type", "function"}, {"function", std::move(function)}});
  }
  if (!out.empty()) prompt.tools = std::move(out);
}

void read_tool_choice(FieldReader& r, ChatPrompt& prompt) {
  const Json* choice = nullptr;
  if (!r.object("tool_choice", choice)) return;
  FieldReader c(*choice, "tool_choice.");
  std::string type, name;
  if (c.require("type") && c.string("type", type)) {
    if (type == "none") prompt.tools = nullptr;
    if (type == "tool") c.require("name") && c.string("name", name);
    if (type != "none" && type != "auto" && type != "any" && type != "tool")
      c.fail(invalid_value("tool_choice.type", "one of 'auto', 'any', 'tool', 'none'", "'" + type + "'"));
  }
  if (!c.ok()) r.fail(c.error());
}

void read_thinking(FieldReader& r) {
  const Json* thinking = nullptr;
  if (!r.object("thinking", thinking)) return;
  FieldReader t(*thinking, "thinking.");
  std::string type;
  t.require("type") && t.string("type", type);
  if (!t.ok()) r.fail(t.error());
}

// The last turn is the assistant's: Anthropic continues it (a prefill). An empty one asks for a fresh turn.
void apply_prefill(ChatPrompt& prompt) {
  if (prompt.messages.empty() || prompt.messages.back()["role"] != "assistant" ||
      prompt.messages.back().contains("tool_calls"))
    return;
  if (prompt.messages.back()["content"].get_ref<const std::string&>().empty()) {
    prompt.messages.erase(prompt.messages.size() - 1);
    return;
  }
  prompt.continue_final_message = true;
  prompt.add_generation_prompt = false;
}

void read_stop_sequences(FieldReader& r, std::vector<std::string>& stop) {
  const Json* v = nullptr;
  if (!r.array("stop_sequences", v)) return;
  if (v->size() > kMaxStopSequences)
    return r.fail(invalid_value("stop_sequences", "at most " + std::to_string(kMaxStopSequences) + " sequences",
                                std::to_string(v->size())));
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& s = (*v)[i];
    if (!s.is_string()) return r.fail(invalid_type(at("stop_sequences", i), "a string", json_type_name(s)));
    if (s.get_ref<const std::string&>().empty())
      return r.fail(invalid_value(at("stop_sequences", i), "a non-empty string", "an empty string"));
    stop.push_back(s.get<std::string>());
  }
}

}  // namespace

ApiResult<MessagesRequest> parse_messages(const Json& body, const ModelResolver& resolve, bool for_count_tokens) {
  MessagesRequest req;
  FieldReader r(body);
  req.model = read_model(r, resolve);
  if (!for_count_tokens && r.require("max_tokens")) r.integer("max_tokens", req.max_tokens, 1, INT32_MAX);
  if (!r.ok()) return r.error();

  read_system(r, req.prompt.messages);
  const Json* messages = nullptr;
  if (r.require("messages") && r.array("messages", messages) && messages->empty())
    r.fail(invalid_value("messages", "at least one message", "an empty array"));
  for (size_t i = 0; r.ok() && i < messages->size(); ++i) read_message(r, (*messages)[i], i, req.prompt.messages);
  if (r.ok()) apply_prefill(req.prompt);
  read_tools(r, req.prompt);
  read_tool_choice(r, req.prompt);
  read_thinking(r);

  engine::SamplingParams& s = req.generation.sampling;
  r.number("temperature", s.temperature, 0, 1);
  if (r.number("top_p", s.top_p, 0, 1) && !(s.top_p > 0))
    r.fail(invalid_value("top_p", "a number greater than 0 and at most 1", "0"));
  r.integer("top_k", s.top_k, 0, INT32_MAX);
  read_stop_sequences(r, req.generation.stop);
  r.boolean("stream", req.stream);
  if (const Json* metadata = nullptr; r.object("metadata", metadata)) {
    FieldReader m(*metadata, "metadata.");
    m.string("user_id", req.user_id);
    if (!m.ok()) r.fail(m.error());
  }
  if (!r.ok()) return r.error();
  return req;
}

ApiResult<MessagesRequest> prepare_messages(std::string_view body, const ModelResolver& resolve) {
  ApiResult<Json> json = parse_json_body(body);
  if (!json.ok()) return json.error();
  ApiResult<MessagesRequest> req = parse_messages(*json, resolve);
  if (!req.ok()) return req;
  ApiResult<RenderedPrompt> prompt = render_chat_prompt(req->prompt, *req->model);
  if (!prompt.ok()) return prompt.error();
  ApiResult<int32_t> max_tokens = fit_max_tokens(Protocol::kAnthropic, static_cast<int64_t>(prompt->token_ids.size()),
                                                 req->max_tokens, req->model->max_model_len, "messages");
  if (!max_tokens.ok()) return max_tokens.error();
  req->generation.prompt = std::move(prompt->token_ids);
  req->generation.max_tokens = *max_tokens;
  req->id = make_response_id("msg_01", 22);
  return req;
}

ApiResult<Json> count_tokens(std::string_view body, const ModelResolver& resolve) {
  ApiResult<Json> json = parse_json_body(body);
  if (!json.ok()) return json.error();
  ApiResult<MessagesRequest> req = parse_messages(*json, resolve, /*for_count_tokens=*/true);
  if (!req.ok()) return req.error();
  ApiResult<RenderedPrompt> prompt = render_chat_prompt(req->prompt, *req->model);
  if (!prompt.ok()) return prompt.error();
  return Json{{"input_tokens", prompt->token_ids.size()}};
}

}  // namespace tessera::server::api::anthropic
