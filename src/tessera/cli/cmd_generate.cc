// `tessera generate` and `tessera logits`: a model run over given token ids through the SimpleRunner.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "tessera/backend/backend_factory.h"
#include "tessera/cli/args.h"
#include "tessera/cli/commands.h"
#include "tessera/model/simple_runner.h"
#include "tessera/util/log.h"

namespace tessera::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Loaded {
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::Model> model;
};

Expected<Loaded> load(const Args& args) {
  if (args.positionals().empty()) return invalid_argument("missing MODEL");
  std::string path;
  TESSERA_ASSIGN_OR_RETURN(path, resolve_model_path(args.positionals()[0]));
  int64_t threads;
  TESSERA_ASSIGN_OR_RETURN(threads, args.get_int("threads", 0));
  if (threads < 0 || threads > 1024) return invalid_argument("--threads must be between 0 and 1024");
  Loaded l;
  TESSERA_ASSIGN_OR_RETURN(l.backend, backend::make_backend(args.get("device").value_or("auto"),
                                                            static_cast<int>(threads)));
  TESSERA_ASSIGN_OR_RETURN(l.model, model::Model::load(path, *l.backend));
  TESSERA_LOG_DEBUG("loaded %s on %s", path.c_str(), l.backend->name().c_str());
  return l;
}

Expected<std::vector<int32_t>> prompt_tokens(const Args& args, int64_t vocab) {
  std::vector<int32_t> tokens;
  TESSERA_ASSIGN_OR_RETURN(tokens, args.get_int_list("tokens"));
  if (tokens.empty()) return invalid_argument("--tokens: give at least one token id");
  for (int32_t t : tokens)
    if (t < 0 || t >= vocab)
      return invalid_argument("--tokens: id " + std::to_string(t) + " is outside the vocabulary (size " +
                              std::to_string(vocab) + ")");
  return tokens;
}

int32_t argmax(const float* row, int64_t n) { return static_cast<int32_t>(std::max_element(row, row + n) - row); }

int32_t sample(const float* row, int64_t n, double temperature, std::mt19937_64& rng) {
  const float mx = *std::max_element(row, row + n);
  std::vector<double> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = std::exp((row[i] - mx) / temperature);
  std::discrete_distribution<int32_t> dist(p.begin(), p.end());
  return dist(rng);
}

const std::set<std::string> kGenerateFlags = {"tokens", "threads", "max-tokens", "temperature", "seed", "device"};

}  // namespace

int cmd_logits(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2, {"tokens", "threads", "top", "device"}, {});
  if (!args.ok()) return fail("logits", args.status());
  auto top = args->get_int("top", 10);
  if (!top.ok()) return fail("logits", top.status());
  auto loaded = load(*args);
  if (!loaded.ok()) return fail("logits", loaded.status());
  const int64_t V = loaded->model->config().vocab_size;
  auto tokens = prompt_tokens(*args, V);
  if (!tokens.ok()) return fail("logits", tokens.status());
  auto runner = model::SimpleRunner::create(*loaded->model, 1, static_cast<int32_t>(tokens->size()));
  if (!runner.ok()) return fail("logits", runner.status());
  std::vector<float> logits;
  if (Status s = runner->append({*tokens}, logits); !s.ok()) return fail("logits", s);
  if (Status s = loaded->backend->status(); !s.ok()) return fail("logits", s);
  const int64_t k = std::clamp<int64_t>(*top, 1, V);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  nlohmann::json pairs = nlohmann::json::array();
  for (int64_t i = 0; i < k; ++i) pairs.push_back({order[i], logits[order[i]]});
  std::printf("%s\n", nlohmann::json{{"top", pairs}}.dump().c_str());
  return 0;
}

int cmd_generate(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2, kGenerateFlags, {"ignore-eos", "json"});
  if (!args.ok()) return fail("generate", args.status());
  auto max_tokens = args->get_int("max-tokens", 16);
  auto temperature = args->get_double("temperature", 0.0);
  auto seed = args->get_int("seed", 0);
  for (const Status& s : {max_tokens.status(), temperature.status(), seed.status()})
    if (!s.ok()) return fail("generate", s);
  if (*max_tokens < 0 || *max_tokens > (1 << 20)) return fail("generate", invalid_argument("--max-tokens out of range"));
  if (!(*temperature >= 0.0)) return fail("generate", invalid_argument("--temperature must be >= 0"));
  auto loaded = load(*args);
  if (!loaded.ok()) return fail("generate", loaded.status());
  const model::ModelConfig& cfg = loaded->model->config();
  auto tokens = prompt_tokens(*args, cfg.vocab_size);
  if (!tokens.ok()) return fail("generate", tokens.status());
  const bool ignore_eos = args->has("ignore-eos");

  auto runner = model::SimpleRunner::create(*loaded->model, 1, static_cast<int32_t>(tokens->size() + *max_tokens));
  if (!runner.ok()) return fail("generate", runner.status());
  std::mt19937_64 rng(static_cast<uint64_t>(*seed));
  std::vector<float> logits;
  std::vector<int32_t> out;
  std::string finish = "length";
  auto t0 = Clock::now();
  Status s = runner->append({*tokens}, logits);
  auto t1 = Clock::now();
  while (s.ok() && static_cast<int64_t>(out.size()) < *max_tokens) {
    const int32_t next = *temperature == 0.0 ? argmax(logits.data(), cfg.vocab_size)
                                             : sample(logits.data(), cfg.vocab_size, *temperature, rng);
    out.push_back(next);
    if (!ignore_eos && std::count(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), next)) {
      finish = "stop";
      break;
    }
    if (static_cast<int64_t>(out.size()) == *max_tokens) break;
    s = runner->decode(std::span<const int32_t>(&next, 1), logits);
  }
  if (s.ok()) s = loaded->backend->status();
  if (!s.ok()) return fail("generate", s);
  auto t2 = Clock::now();
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  if (args->has("json")) {
    nlohmann::json j = {{"tokens", out},
                        {"prompt_tokens", tokens->size()},
                        {"finish_reason", finish},
                        {"timings",
                         {{"prefill_s", prefill_s},
                          {"decode_s", decode_s},
                          {"prefill_tokens_per_s", tokens->size() / prefill_s},
                          {"decode_tokens_per_s", out.size() > 1 ? (out.size() - 1) / decode_s : 0.0}}}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (size_t i = 0; i < out.size(); ++i) std::printf("%s%d", i ? " " : "", out[i]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace tessera::cli
