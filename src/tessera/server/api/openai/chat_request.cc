#include "tessera/server/api/openai/chat_request.h"

#include "tessera/server/api/response_id.h"

namespace tessera::server::api::openai {
namespace {

std::string at(std::string_view prefix, size_t i) { return std::string(prefix) + "[" + std::to_string(i) + "]"; }

// A message's content as one string. Null or absent is "" (an assistant's turn that only calls tools).
void read_content(FieldReader& r, const std::string& path, std::string& out) {
  const Json* content = r.get("content");
  if (!content || !r.ok()) return;
  if (content->is_string()) {
    out = content->get<std::string>();
    return;
  }
  if (!content->is_array())
    return r.fail(invalid_type(path, "a string or an array of content parts", json_type_name(*content)));
  bool first = true;
  for (size_t i = 0; i < content->size(); ++i) {
    const Json& part = (*content)[i];
    const std::string part_path = at(path, i);
    if (!part.is_object()) return r.fail(invalid_type(part_path, "an object", json_type_name(part)));
    FieldReader p(part, part_path + ".");
    std::string type, text;
    if (!p.require("type") || !p.string("type", type)) return r.fail(p.error());
    if (type == "image_url" || type == "input_image" || type == "image")
      return r.fail(not_supported("Image inputs are not supported yet; send text content only.", part_path));
    if (type == "input_audio" || type == "audio_url" || type == "video_url" || type == "file")
      return r.fail(
          not_supported("Content parts of type '" + type + "' are not supported yet; send text only.", part_path));
    // An assistant's earlier refusal is text the model said.
    const char* field = type == "refusal" ? "refusal" : "text";
    if (type != "text" && type != "refusal")
      return r.fail(invalid_value(part_path + ".type", "'text'", "'" + type + "'"));
    if (!p.require(field) || !p.string(field, text)) return r.fail(p.error());
    if (!first) out += '\n';
    out += text;
    first = false;
  }
}

// [{"id", "type": "function", "function": {"name", "arguments": "{...}"}}] -> the same with arguments an object.
Json read_tool_calls(FieldReader& r, const Json& calls, const std::string& path) {
  Json out = Json::array();
  for (size_t i = 0; i < calls.size() && r.ok(); ++i) {
    const std::string call_path = at(path, i);
    if (!calls[i].is_object()) {
      r.fail(invalid_type(call_path, "an object", json_type_name(calls[i])));
      break;
    }
    FieldReader c(calls[i], call_path + ".");
    std::string id, type = "function", name, arguments;
    const Json* function = nullptr;
    c.string("id", id);
    c.string("type", type);
    if (c.ok() && type != "function") c.fail(invalid_value(call_path + ".type", "'function'", "'" + type + "'"));
    if (c.require("function") && c.object("function", function)) {
      FieldReader f(*function, call_path + ".function.");
      f.require("name") && f.string("name", name);
      f.string("arguments", arguments);
      if (!f.ok()) c.fail(f.error());
    }
    if (!c.ok()) {
      r.fail(c.error());
      break;
    }
    // A template gets the object; arguments that are not a JSON object stay the client's string.
    std::optional<Json> parsed = parse_embedded_json(arguments.empty() ? std::string_view("{}") : arguments);
    Json args = parsed && parsed->is_object() ? std::move(*parsed) : Json(arguments);
    Json call = Json::object();
    if (!id.empty()) call["id"] = id;
    call["type"] = "function";
    call["function"] = Json{{"name", name}, {"arguments", std::move(args)}};
    out.push_back(std::move(call));
  }
  return out;
}

Json read_message(FieldReader& r, const Json& message, size_t index) {
  const std::string path = at("messages", index);
  if (!message.is_object()) {
    r.fail(invalid_type(path, "an object", json_type_name(message)));
    return nullptr;
  }
  FieldReader m(message, path + ".");
  std::string role, content, name, tool_call_id, reasoning;
  if (!m.require("role") || !m.string("role", role)) {
    r.fail(m.error());
    return nullptr;
  }
  if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool") {
    r.fail(
        invalid_value(path + ".role", "one of 'system', 'developer', 'user', 'assistant', 'tool'", "'" + role + "'"));
    return nullptr;
  }
  if (role != "assistant") m.require("content");
  read_content(m, path + ".content", content);
  m.string("name", name);
  Json out = Json::object();
  out["role"] = role == "developer" ? "system" : role;
  out["content"] = content;
  if (!name.empty()) out["name"] = name;
  if (role == "assistant") {
    if (const Json* calls = nullptr; m.array("tool_calls", calls) && !calls->empty())
      out["tool_calls"] = read_tool_calls(m, *calls, path + ".tool_calls");
    if (m.string("reasoning_content", reasoning) || m.string("reasoning", reasoning))
      out["reasoning_content"] = reasoning;
  }
  if (role == "tool" && m.require("tool_call_id") && m.string("tool_call_id", tool_call_id))
    out["tool_call_id"] = tool_call_id;
  if (!m.ok()) r.fail(m.error());
  return out;
}

void read_tools(FieldReader& r, ChatPrompt& prompt) {
  const Json* tools = nullptr;
  if (!r.array("tools", tools) || tools->empty()) return;
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string path = at("tools", i);
    const Json& tool = (*tools)[i];
    if (!tool.is_object()) return r.fail(invalid_type(path, "an object", json_type_name(tool)));
    FieldReader t(tool, path + ".");
    std::string type, name, description;
    const Json* function = nullptr;
    if (t.require("type") && t.string("type", type) && type != "function")
      t.fail(invalid_value(path + ".type", "'function'", "'" + type + "'"));
    if (t.require("function") && t.object("function", function)) {
      FieldReader f(*function, path + ".function.");
      f.require("name") && f.string("name", name);
      f.string("description", description);
      const Json* parameters = nullptr;
      f.object("parameters", parameters);
      if (!f.ok()) t.fail(f.error());
    }
    if (!t.ok()) return r.fail(t.error());
  }
  prompt.tools = *tools;
}

// "none" keeps the tools out of the prompt (vLLM's default); the others render them.
void read_tool_choice(FieldReader& r, ChatPrompt& prompt) {
  const Json* choice = r.get("tool_choice");
  if (!choice || !r.ok()) return;
  if (choice->is_string()) {
    const std::string& c = choice->get_ref<const std::string&>();
    if (c == "none") prompt.tools = nullptr;
    if (c != "none" && c != "auto" && c != "required")
      r.fail(invalid_value("tool_choice", "'none', 'auto', 'required' or a named function", "'" + c + "'"));
    return;
  }
  if (!choice->is_object())
    return r.fail(invalid_type("tool_choice", "a string or an object", json_type_name(*choice)));
  FieldReader c(*choice, "tool_choice.");
  const Json* function = nullptr;
  std::string name;
  if (c.require("function") && c.object("function", function)) {
    FieldReader f(*function, "tool_choice.function.");
    f.require("name") && f.string("name", name);
    if (!f.ok()) c.fail(f.error());
  }
  if (!c.ok()) r.fail(c.error());
}

}  // namespace

ApiResult<ChatCompletionRequest> parse_chat_completion(const Json& body, const ModelResolver& resolve) {
  ChatCompletionRequest req;
  FieldReader r(body);
  req.model = read_model(r, resolve);
  if (!r.ok()) return r.error();

  const Json* messages = nullptr;
  if (r.require("messages") && r.array("messages", messages) && messages->empty())
    r.fail(invalid_value("messages", "a non-empty array of messages", "an empty array"));
  for (size_t i = 0; r.ok() && i < messages->size(); ++i)
    req.prompt.messages.push_back(read_message(r, (*messages)[i], i));
  read_tools(r, req.prompt);
  read_tool_choice(r, req.prompt);
  r.boolean("add_generation_prompt", req.prompt.add_generation_prompt);
  r.boolean("continue_final_message", req.prompt.continue_final_message);
  if (r.ok() && req.prompt.continue_final_message) {
    if (r.has("add_generation_prompt") && req.prompt.add_generation_prompt)
      r.fail(invalid_request("continue_final_message and add_generation_prompt cannot both be true.",
                             "continue_final_message"));
    else if (req.prompt.messages.back()["role"] != "assistant")
      r.fail(invalid_request("continue_final_message needs the last message to be the assistant's.",
                             "continue_final_message"));
    req.prompt.add_generation_prompt = false;
  }
  if (const Json* kwargs = nullptr; r.object("chat_template_kwargs", kwargs)) {
    // They would win over the variables render_chat sets, bypassing the validation of messages and tools.
    for (const char* reserved : {"messages", "tools", "add_generation_prompt", "bos_token", "eos_token"})
      if (kwargs->contains(reserved))
        r.fail(invalid_value("chat_template_kwargs", "extra template variables",
                             "'" + std::string(reserved) + "', which the request's own fields set"));
    req.prompt.template_kwargs = *kwargs;
  }
  if (std::string effort; r.string("reasoning_effort", effort)) req.prompt.template_kwargs["reasoning_effort"] = effort;
  if (r.ok() && r.has("chat_template"))
    r.fail(not_supported("A chat template in the request is not accepted; the server's template is used.",
                         "chat_template"));
  if (bool echo = false; r.boolean("echo", echo) && echo)
    r.fail(not_supported("echo is not supported for chat completions.", "echo"));

  read_common_fields(r, *req.model, req.generation, req.common);
  int32_t top_logprobs = 0;
  r.boolean("logprobs", req.logprobs);
  if (r.integer("top_logprobs", top_logprobs, 0, 20) && !req.logprobs)
    r.fail(invalid_request("top_logprobs needs logprobs to be true.", "top_logprobs"));
  if (!r.ok()) return r.error();
  req.generation.sampling.num_logprobs = req.logprobs ? top_logprobs : -1;
  return req;
}

ApiResult<ChatCompletionRequest> prepare_chat_completion(std::string_view body, const ModelResolver& resolve) {
  ApiResult<Json> json = parse_json_body(body);
  if (!json.ok()) return json.error();
  ApiResult<ChatCompletionRequest> req = parse_chat_completion(*json, resolve);
  if (!req.ok()) return req;
  ApiResult<RenderedPrompt> prompt = render_chat_prompt(req->prompt, *req->model);
  if (!prompt.ok()) return prompt.error();
  ApiResult<int32_t> max_tokens = fit_max_tokens(Protocol::kOpenAI, static_cast<int64_t>(prompt->token_ids.size()),
                                                 req->common.max_tokens, req->model->max_model_len, "messages");
  if (!max_tokens.ok()) return max_tokens.error();
  req->generation.prompt = std::move(prompt->token_ids);
  req->generation.max_tokens = *max_tokens;
  req->generation.sampling.min_tokens = std::min(req->generation.sampling.min_tokens, *max_tokens);
  req->id = make_response_id("chatcmpl-");
  req->created = unix_seconds_now();
  return req;
}

}  // namespace tessera::server::api::openai
