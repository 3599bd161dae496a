// `tessera generate` (raw completion from token ids or text) and `tessera logits` (the top-K logits after a prompt).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "tessera/cli/commands.h"
#include "tessera/cli/generation.h"
#include "tessera/model/simple_runner.h"

namespace tessera::cli {
namespace {

const std::set<std::string> kGenerateFlags = {"tokens",      "prompt", "threads", "max-tokens",
                                              "temperature", "seed",   "device"};

// The prompt from --tokens (ids) or --prompt (text, tokenized without special tokens, as a raw completion).
Expected<std::vector<int32_t>> prompt_ids(const Args& args, const LoadedModel& m) {
  if (args.has("tokens") == args.has("prompt")) return invalid_argument("give exactly one of --tokens and --prompt");
  if (args.has("prompt")) return m.tokenizer->encode(*args.get("prompt"), /*add_special=*/true);
  std::vector<int32_t> ids;
  TESSERA_ASSIGN_OR_RETURN(ids, args.get_int_list("tokens"));
  if (ids.empty()) return invalid_argument("--tokens: give at least one token id");
  return ids;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2, {"tokens", "threads", "top", "device"}, {});
  if (!args.ok()) return fail("logits", args.status());
  auto top = args->get_int("top", 10);
  if (!top.ok()) return fail("logits", top.status());
  auto m = load_model(*args, /*with_tokenizer=*/false);
  if (!m.ok()) return fail("logits", m.status());
  auto tokens = prompt_ids(*args, *m);
  if (!tokens.ok()) return fail("logits", tokens.status());
  const int64_t V = m->model->config().vocab_size;
  for (int32_t t : *tokens)
    if (t < 0 || t >= V)
      return fail("logits", invalid_argument("--tokens: id " + std::to_string(t) + " is outside the vocabulary"));
  auto runner = model::SimpleRunner::create(*m->model, 1, static_cast<int32_t>(tokens->size()));
  if (!runner.ok()) return fail("logits", runner.status());
  std::vector<float> logits;
  if (Status s = runner->append({*tokens}, logits); !s.ok()) return fail("logits", s);
  if (Status s = m->backend->status(); !s.ok()) return fail("logits", s);
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
  auto opts = sampling_options(*args, 16);
  if (!opts.ok()) return fail("generate", opts.status());
  const bool text_mode = args->has("prompt");
  auto m = load_model(*args, /*with_tokenizer=*/text_mode);
  if (!m.ok()) return fail("generate", m.status());
  auto prompt = prompt_ids(*args, *m);
  if (!prompt.ok()) return fail("generate", prompt.status());
  auto r = generate(*m, *prompt, *opts);
  if (!r.ok()) return fail("generate", r.status());
  const size_t n = r->tokens.size();
  if (args->has("json")) {
    nlohmann::ordered_json j = {{"tokens", r->tokens}};
    if (text_mode) {
      // The completion's text: the stop token itself is not part of it.
      std::vector<int32_t> shown = r->tokens;
      if (r->finish_reason == "stop") shown.pop_back();
      j["text"] = m->tokenizer->decode(shown, /*skip_special=*/true);
    }
    j["prompt_tokens"] = prompt->size();
    j["finish_reason"] = r->finish_reason;
    j["timings"] = {{"prefill_s", r->prefill_s},
                    {"decode_s", r->decode_s},
                    {"prefill_tokens_per_s", prompt->size() / r->prefill_s},
                    {"decode_tokens_per_s", n > 1 ? (n - 1) / r->decode_s : 0.0}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  } else if (text_mode) {
    std::printf("%s\n", m->tokenizer->decode(r->tokens, /*skip_special=*/true).c_str());
  } else {
    for (size_t i = 0; i < n; ++i) std::printf("%s%d", i ? " " : "", r->tokens[i]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace tessera::cli
