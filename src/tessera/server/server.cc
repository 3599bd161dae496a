#include "tessera/server/server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <thread>

#include "tessera/server/api/anthropic/errors.h"
#include "tessera/server/api/anthropic/messages_request.h"
#include "tessera/server/api/anthropic/messages_response.h"
#include "tessera/server/api/json_body.h"
#include "tessera/server/api/openai/chat_request.h"
#include "tessera/server/api/openai/chat_response.h"
#include "tessera/server/api/openai/completion_request.h"
#include "tessera/server/api/openai/completion_response.h"
#include "tessera/server/api/openai/errors.h"
#include "tessera/server/api/openai/models.h"
#include "tessera/server/session.h"
#include "tessera/util/log.h"

namespace tessera::server {
namespace {

using api::Json;
using http::Request;
using http::Responder;

enum class Api { kOpenAI, kAnthropic };

Api api_of(std::string_view path) { return path.rfind("/v1/messages", 0) == 0 ? Api::kAnthropic : Api::kOpenAI; }

api::Reply error_reply(Api a, const api::ApiError& e) {
  return a == Api::kAnthropic ? api::anthropic::error_reply(e) : api::openai::error_reply(e);
}

void send_reply(Responder& r, const api::Reply& reply) {
  r.send(reply.http_status, "application/json", reply.body, {});
}

// Compares in time that depends only on the length of `given`, never on where the first difference is.
bool constant_time_equal(std::string_view given, std::string_view key) {
  if (key.empty()) return false;
  unsigned char diff = given.size() != key.size() ? 1 : 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i % key.size()]);
  return diff == 0;
}

// The key a client sent: Anthropic's x-api-key, or OpenAI's Authorization: Bearer.
std::string_view presented_key(const Request& req) {
  if (req.has_header("x-api-key")) return req.header("x-api-key");
  std::string_view auth = req.header("authorization");
  if (auth.size() > 7 && http::iequals(auth.substr(0, 7), "Bearer ")) return auth.substr(7);
  return {};
}

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o)
      : options(std::move(o)),
        http(options.http),
        format_pool(static_cast<size_t>(std::max(1, options.num_format_threads))) {}

  ServerOptions options;
  http::HttpServer http;
  boost::asio::thread_pool format_pool;
  std::vector<std::unique_ptr<ModelEntry>> models;  // fixed once ready
  const std::atomic<bool>* ready = nullptr;
  std::atomic<bool> shut_down{false};

  bool authorized(const Request& req) const {
    if (options.api_keys.empty()) return true;
    const std::string_view given = presented_key(req);
    bool ok = false;
    for (const std::string& key : options.api_keys) ok |= constant_time_equal(given, key);
    return ok;
  }

  ModelEntry* entry_of(const api::ServedModel* m) {
    for (auto& e : models)
      if (&e->served == m) return e.get();
    return nullptr;
  }

  // Exact names and aliases. Anthropic clients (Claude Code) send their own model names: with one model served,
  // any name reaches it there.
  api::ModelResolver resolver(Api a) {
    return [this, a](std::string_view name) -> const api::ServedModel* {
      for (auto& e : models) {
        if (e->served.name == name) return &e->served;
        for (const std::string& alias : e->aliases)
          if (alias == name) return &e->served;
      }
      if (a == Api::kAnthropic && models.size() == 1) return &models[0]->served;
      return nullptr;
    };
  }

  // Checks shared by every model endpoint; false when it already answered.
  bool admit(Api a, const Request& req, Responder& r) {
    if (!ready->load(std::memory_order_acquire)) {
      send_reply(r, error_reply(a, api::overloaded("the model is still loading")));
      return false;
    }
    if (!authorized(req)) {
      send_reply(r, error_reply(a, api::authentication_failed("invalid API key")));
      return false;
    }
    return true;
  }

  Session::Post post() {
    return [this](std::function<void()> fn) { boost::asio::post(format_pool, std::move(fn)); };
  }

  template <typename Parsed, typename Stream, typename ReplyFn>
  void run(Api a, std::shared_ptr<Parsed> parsed, bool stream, ReplyFn reply_fn, const std::string& id,
           std::shared_ptr<Responder> responder) {
    ModelEntry* e = entry_of(parsed->model);
    SessionFormat f;
    f.stream = stream;
    f.num_sequences = parsed->generation.n;
    f.error_reply = [a](const api::ApiError& err) { return error_reply(a, err); };
    if (stream) {
      auto writer = std::make_shared<Stream>(*parsed);
      f.on_events = [parsed, writer](std::span<const engine::RequestEvent> evs) { return writer->on_events(evs); };
      f.done = [writer] { return writer->done(); };
    } else {
      f.reply = [parsed, reply_fn](const api::ResponseAccumulator& acc) { return reply_fn(*parsed, acc); };
    }
    engine::GenerationRequest gen = std::move(parsed->generation);
    auto session = std::make_shared<Session>(*e->engine, *e->metrics, id, e->served.name, std::move(f),
                                             std::move(responder), post());
    session->start(std::move(gen));
  }

  void chat_completions(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kOpenAI, req, *r)) return;
    auto parsed = api::openai::prepare_chat_completion(req.body, resolver(Api::kOpenAI));
    if (!parsed.ok()) return send_reply(*r, api::openai::error_reply(parsed.error()));
    auto p = std::make_shared<api::openai::ChatCompletionRequest>(std::move(*parsed));
    const bool stream = p->common.stream;
    const std::string id = p->id;
    run<api::openai::ChatCompletionRequest, api::openai::ChatCompletionStream>(
        Api::kOpenAI, p, stream, api::openai::chat_completion_reply, id, std::move(r));
  }

  void completions(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kOpenAI, req, *r)) return;
    auto parsed = api::openai::prepare_completion(req.body, resolver(Api::kOpenAI));
    if (!parsed.ok()) return send_reply(*r, api::openai::error_reply(parsed.error()));
    auto p = std::make_shared<api::openai::CompletionRequest>(std::move(*parsed));
    const bool stream = p->common.stream;
    const std::string id = p->id;
    run<api::openai::CompletionRequest, api::openai::CompletionStream>(Api::kOpenAI, p, stream,
                                                                       api::openai::completion_reply, id, std::move(r));
  }

  void messages(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kAnthropic, req, *r)) return;
    auto parsed = api::anthropic::prepare_messages(req.body, resolver(Api::kAnthropic));
    if (!parsed.ok()) return send_reply(*r, api::anthropic::error_reply(parsed.error()));
    auto p = std::make_shared<api::anthropic::MessagesRequest>(std::move(*parsed));
    const bool stream = p->stream;
    const std::string id = p->id;
    run<api::anthropic::MessagesRequest, api::anthropic::MessageStream>(
        Api::kAnthropic, p, stream, api::anthropic::message_reply, id, std::move(r));
  }

  void count_tokens(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kAnthropic, req, *r)) return;
    auto counted = api::anthropic::count_tokens(req.body, resolver(Api::kAnthropic));
    if (!counted.ok()) return send_reply(*r, api::anthropic::error_reply(counted.error()));
    r->send(200, "application/json", api::dump(*counted), {});
  }

  void list_models(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kOpenAI, req, *r)) return;
    std::vector<const api::ServedModel*> list;
    for (auto& e : models) list.push_back(&e->served);
    r->send(200, "application/json", api::dump(api::openai::render_model_list(list)), {});
  }

  // vLLM's /tokenize: {"prompt": "..."} or {"messages": [...]} (rendered through the chat template).
  void tokenize(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kOpenAI, req, *r)) return;
    auto body = api::parse_json_body(req.body);
    if (!body.ok()) return send_reply(*r, api::openai::error_reply(body.error()));
    if (!body->is_object()) return send_reply(*r, api::openai::error_reply(api::invalid_request("expected an object")));
    if (!body->contains("model")) (*body)["model"] = models[0]->served.name;
    const auto resolve = resolver(Api::kOpenAI);
    std::vector<int32_t> tokens;
    const api::ServedModel* model = nullptr;
    if (body->contains("messages")) {
      auto chat = api::openai::parse_chat_completion(*body, resolve);
      if (!chat.ok()) return send_reply(*r, api::openai::error_reply(chat.error()));
      auto rendered = api::render_chat_prompt(chat->prompt, *chat->model);
      if (!rendered.ok()) return send_reply(*r, api::openai::error_reply(rendered.error()));
      tokens = rendered->token_ids;
      model = chat->model;
    } else {
      const Json& prompt = (*body)["prompt"];
      if (!prompt.is_string())
        return send_reply(*r, api::openai::error_reply(api::invalid_request("'prompt' must be a string", "prompt")));
      model = resolve((*body)["model"].is_string() ? (*body)["model"].get<std::string>() : "");
      if (!model) return send_reply(*r, api::openai::error_reply(api::model_not_found(api::dump((*body)["model"]))));
      const bool add_special = !body->contains("add_special_tokens") || (*body)["add_special_tokens"] == true;
      tokens = model->tokenizer->encode(prompt.get<std::string>(), add_special);
    }
    Json out = {{"count", tokens.size()}, {"max_model_len", model->max_model_len}, {"tokens", tokens}};
    r->send(200, "application/json", api::dump(out), {});
  }

  void detokenize(const Request& req, std::shared_ptr<Responder> r) {
    if (!admit(Api::kOpenAI, req, *r)) return;
    auto body = api::parse_json_body(req.body);
    if (!body.ok()) return send_reply(*r, api::openai::error_reply(body.error()));
    if (!body->is_object() || !(*body)["tokens"].is_array())
      return send_reply(*r, api::openai::error_reply(api::invalid_request("'tokens' must be an array", "tokens")));
    const api::ServedModel* model = resolver(Api::kOpenAI)(
        (*body)["model"].is_string() ? (*body)["model"].get<std::string>() : models[0]->served.name);
    if (!model) return send_reply(*r, api::openai::error_reply(api::model_not_found(api::dump((*body)["model"]))));
    std::vector<int32_t> ids;
    for (const Json& t : (*body)["tokens"]) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
          t.get<int64_t>() >= static_cast<int64_t>(model->tokenizer->vocab_size()))
        return send_reply(*r, api::openai::error_reply(api::invalid_request("token id out of range", "tokens")));
      ids.push_back(t.get<int32_t>());
    }
    r->send(200, "application/json", api::dump(Json{{"prompt", model->tokenizer->decode(ids, false)}}), {});
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) { impl_->ready = &ready_; }

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

Status Server::start() {
  Impl& s = *impl_;
  auto bind = [&s](void (Impl::*fn)(const Request&, std::shared_ptr<Responder>)) {
    return [&s, fn](const Request& req, std::shared_ptr<Responder> r) { (s.*fn)(req, std::move(r)); };
  };
  s.http.route("POST", "/v1/chat/completions", bind(&Impl::chat_completions));
  s.http.route("POST", "/v1/completions", bind(&Impl::completions));
  s.http.route("POST", "/v1/messages", bind(&Impl::messages));
  s.http.route("POST", "/v1/messages/count_tokens", bind(&Impl::count_tokens));
  s.http.route("GET", "/v1/models", bind(&Impl::list_models));
  s.http.route("POST", "/tokenize", bind(&Impl::tokenize));
  s.http.route("POST", "/detokenize", bind(&Impl::detokenize));
  s.http.route("GET", "/health", [this](const Request&, std::shared_ptr<Responder> r) {
    r->send(ready() ? 200 : 503, "text/plain", ready() ? "" : "loading\n", {});
  });
  s.http.route("GET", "/metrics", [this](const Request&, std::shared_ptr<Responder> r) {
    std::string page;
    if (ready())
      for (auto& e : impl_->models) page += e->metrics->render(e->engine->stats());
    r->send(200, "text/plain; version=0.0.4; charset=utf-8", std::move(page), {});
  });
  s.http.set_error_handler([](int status, std::string_view message, const Request& req) {
    api::ApiError e = status == 404   ? api::not_found(std::string(message))
                      : status == 413 ? api::request_too_large(std::string(message))
                      : status >= 500 ? api::internal_error(std::string(message))
                                      : api::invalid_request(std::string(message));
    e.http_status = status;
    return http::ErrorBody{"application/json", error_reply(api_of(req.path), e).body};
  });
  return s.http.start();
}

uint16_t Server::port() const { return impl_->http.port(); }

void Server::add_model(ModelEntry entry) { impl_->models.push_back(std::make_unique<ModelEntry>(std::move(entry))); }

void Server::set_ready() { ready_.store(true, std::memory_order_release); }

void Server::shutdown(std::chrono::milliseconds grace) {
  if (impl_->shut_down.exchange(true)) return;
  for (auto& e : impl_->models) e->engine->drain();
  impl_->http.shutdown(grace);
  // The connections closed above aborted their requests; their last events must still reach their sessions
  // (which end the stream <-> session cycle) before the formatting threads stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (auto& e : impl_->models)
    while (!e->engine->idle() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  impl_->format_pool.join();
}

}  // namespace tessera::server
