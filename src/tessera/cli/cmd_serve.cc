// `tessera serve [MODEL] [--host H] [--port P] [--api-key K]... [engine flags]`: the OpenAI and Anthropic APIs
// over HTTP. Listens first (so /health answers 503 while the model loads), loads the model and its tokenizer,
// starts the engine, then serves until SIGINT or SIGTERM: it stops accepting, lets streams under way finish for
// --shutdown-timeout seconds, aborts the rest and exits 0.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "tessera/cli/commands.h"
#include "tessera/cli/engine_options.h"
#include "tessera/cli/generation.h"
#include "tessera/engine/engine.h"
#include "tessera/server/server.h"
#include "tessera/tokenizer/chat/template.h"
#include "tessera/util/log.h"

namespace tessera::cli {
namespace {

// While the model loads on a terminal: elapsed seconds on one line, rewritten in place.
class LoadingIndicator {
 public:
  explicit LoadingIndicator(std::string what) : what_(std::move(what)) {
    if (!isatty(STDERR_FILENO)) return;
    thread_ = std::thread([this] {
      const char* frames = "|/-\\";
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; !done_.load(); ++i) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "\r%c loading %s  %.1f s", frames[i % 4], what_.c_str(), s);
        std::fflush(stderr);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::fprintf(stderr, "\r\033[K");
    });
  }
  ~LoadingIndicator() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string what_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

int cmd_serve(int argc, char** argv) {
  std::set<std::string> value_flags = {"host",      "port",   "api-key",         "served-model-name", "chat-template",
                                       "threads",   "device", "allowed-origins", "shutdown-timeout",  "max-body-size",
                                       "io-threads"};
  value_flags.insert(engine_value_flags().begin(), engine_value_flags().end());
  auto args = Args::parse(argc, argv, 2, value_flags, engine_bool_flags());
  if (!args.ok()) return fail("serve", args.status());

  // SIGINT and SIGTERM are taken by sigwait on this thread only: block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServerOptions options;
  options.http.host = args->get("host").value_or("0.0.0.0");
  auto port = args->get_int("port", 8000), io_threads = args->get_int("io-threads", 2),
       shutdown_s = args->get_int("shutdown-timeout", 10);
  for (const Status& s : {port.status(), io_threads.status(), shutdown_s.status()})
    if (!s.ok()) return fail("serve", s);
  if (*port < 0 || *port > 65535) return fail("serve", invalid_argument("--port must be between 0 and 65535"));
  if (*io_threads < 1 || *io_threads > 64) return fail("serve", invalid_argument("--io-threads must be 1..64"));
  options.http.port = static_cast<uint16_t>(*port);
  options.http.num_io_threads = static_cast<int>(*io_threads);
  if (auto size = args->get("max-body-size")) {
    auto bytes = parse_byte_size(*size);
    if (!bytes.ok()) return fail("serve", bytes.status());
    options.http.max_body_bytes = static_cast<size_t>(*bytes);
  }
  if (auto origins = args->get("allowed-origins")) {
    std::stringstream ss(*origins);
    for (std::string o; std::getline(ss, o, ',');)
      if (!o.empty()) options.http.cors_allowed_origins.push_back(o);
  }
  options.api_keys = args->get_all("api-key");
  if (const char* env = std::getenv("TESSERA_API_KEY"); env && *env) options.api_keys.emplace_back(env);
  auto config = engine_config(*args);
  if (!config.ok()) return fail("serve", config.status());

  server::Server srv(options);
  if (Status s = srv.start(); !s.ok()) return fail("serve", s);
  TESSERA_LOG_INFO("listening on http://%s:%u%s", options.http.host.c_str(), srv.port(),
                   options.api_keys.empty() ? "" : " (API keys required)");

  // A signal during loading ends the process at once: there is nothing to drain yet.
  std::atomic<bool> loaded{false};
  std::atomic<int> signal_seen{0};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    signal_seen.store(sig);
    if (!loaded.load()) {
      std::fprintf(stderr, "\ntessera: interrupted while loading\n");
      std::_Exit(0);
    }
  });
  // Error returns below leave the watcher waiting in sigwait: detach it then, or its destructor would terminate.
  struct DetachOnReturn {
    std::thread& t;
    ~DetachOnReturn() {
      if (t.joinable()) t.detach();
    }
  } detach_watcher{watcher};

  // With no MODEL, the default one (fetched on first use).
  Args model_args = *args;
  if (model_args.positionals().empty()) model_args.add_positional("default");
  const std::string model_arg = model_args.positionals()[0];
  Expected<LoadedModel> m = invalid_argument("not loaded");
  {
    LoadingIndicator indicator(model_arg);
    m = load_model(model_args, /*with_tokenizer=*/true);
  }
  if (!m.ok()) {
    srv.shutdown(std::chrono::milliseconds(0));
    return fail("serve", m.status());
  }
  std::string template_source = m->tokenizer->chat_template();
  if (auto file = args->get("chat-template")) {
    auto text = read_file(*file);
    if (!text.ok()) return fail("serve", text.status());
    template_source = *text;
  }
  std::optional<tokenizer::chat::Template> tmpl;
  if (!template_source.empty()) {
    auto parsed = tokenizer::chat::Template::parse(template_source);
    if (!parsed.ok()) return fail("serve", parsed.status());
    tmpl = std::move(*parsed);
  } else {
    TESSERA_LOG_WARN("%s has no chat template: the chat endpoints will answer 400 (give --chat-template FILE)",
                     m->path.c_str());
  }

  auto engine = engine::Engine::create(*m->model, m->tokenizer, *config);
  if (!engine.ok()) return fail("serve", engine.status());
  const model::ModelConfig& mc = m->model->config();
  TESSERA_LOG_INFO("loaded %s: %s, %lld layers, hidden %lld, vocab %lld, on %s", m->path.c_str(),
                   mc.architecture.c_str(), static_cast<long long>(mc.num_layers),
                   static_cast<long long>(mc.hidden_size), static_cast<long long>(mc.vocab_size),
                   m->backend->name().c_str());
  TESSERA_LOG_INFO(
      "%s", describe_pool((*engine)->pool_plan(), (*engine)->config().block_size, (*engine)->max_model_len()).c_str());
  TESSERA_LOG_INFO("scheduler: max %d sequences, %d tokens per step, chunked prefill %s, prefix caching %s",
                   (*engine)->config().max_num_seqs, (*engine)->config().max_num_batched_tokens,
                   (*engine)->config().enable_chunked_prefill ? "on" : "off",
                   (*engine)->config().enable_prefix_caching ? "on" : "off");

  std::vector<std::string> names = args->get_all("served-model-name");
  if (names.empty()) names.push_back(model_arg);
  server::ModelEntry entry;
  entry.served.name = names[0];
  entry.aliases.assign(names.begin() + 1, names.end());
  entry.served.tokenizer = m->tokenizer;
  entry.served.chat_template = std::move(tmpl);
  entry.served.max_model_len = (*engine)->max_model_len();
  entry.served.created = static_cast<int64_t>(std::time(nullptr));
  entry.engine = engine->get();
  entry.metrics = std::make_unique<server::Metrics>(names[0]);
  srv.add_model(std::move(entry));
  loaded.store(true);
  srv.set_ready();
  TESSERA_LOG_INFO("ready: serving '%s' on http://%s:%u", names[0].c_str(), options.http.host.c_str(), srv.port());

  watcher.join();  // until SIGINT or SIGTERM
  // A second signal during the grace period quits at once.
  std::thread([&signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "tessera: second signal, quitting\n");
    std::_Exit(1);
  }).detach();
  TESSERA_LOG_INFO("signal %d: shutting down (up to %lld s for requests under way)", signal_seen.load(),
                   static_cast<long long>(*shutdown_s));
  srv.shutdown(std::chrono::seconds(*shutdown_s));
  engine->reset();  // aborts whatever is left, joins the engine thread
  TESSERA_LOG_INFO("stopped");
  return 0;
}

}  // namespace tessera::cli
