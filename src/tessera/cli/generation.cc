#include "tessera/cli/generation.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tessera/backend/backend_factory.h"
#include "tessera/cli/commands.h"
#include "tessera/engine/sampler.h"
#include "tessera/model/simple_runner.h"

namespace tessera::cli {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::vector<int32_t> LoadedModel::stop_ids() const {
  std::vector<int32_t> ids;
  for (int64_t id : model->config().eos_token_ids) ids.push_back(static_cast<int32_t>(id));
  if (tokenizer)
    for (int32_t id : tokenizer->end_of_generation_ids())
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

Expected<LoadedModel> load_model(const Args& args, bool with_tokenizer) {
  if (args.positionals().empty()) return invalid_argument("missing MODEL");
  LoadedModel m;
  TESSERA_ASSIGN_OR_RETURN(m.path, resolve_model_path(args.positionals()[0]));
  int64_t threads;
  TESSERA_ASSIGN_OR_RETURN(threads, args.get_int("threads", 0));
  if (threads < 0 || threads > 1024) return invalid_argument("--threads must be between 0 and 1024");
  TESSERA_ASSIGN_OR_RETURN(m.backend,
                           backend::make_backend(args.get("device").value_or("auto"), static_cast<int>(threads)));
  TESSERA_ASSIGN_OR_RETURN(m.model, model::Model::load(m.path, *m.backend));
  if (with_tokenizer) {
    TESSERA_ASSIGN_OR_RETURN(m.tokenizer, tokenizer::Tokenizer::load(m.path));
  }
  return m;
}

Expected<SamplingOptions> sampling_options(const Args& args, int64_t default_max_tokens) {
  SamplingOptions o;
  TESSERA_ASSIGN_OR_RETURN(o.max_tokens, args.get_int("max-tokens", default_max_tokens));
  TESSERA_ASSIGN_OR_RETURN(o.temperature, args.get_double("temperature", 0.0));
  int64_t seed;
  TESSERA_ASSIGN_OR_RETURN(seed, args.get_int("seed", 0));
  o.seed = static_cast<uint64_t>(seed);
  o.ignore_eos = args.has("ignore-eos");
  if (o.max_tokens < 0 || o.max_tokens > (1 << 20)) return invalid_argument("--max-tokens out of range");
  if (!(o.temperature >= 0.0)) return invalid_argument("--temperature must be >= 0");
  return o;
}

Expected<GenerationResult> generate(const LoadedModel& m, const std::vector<int32_t>& prompt,
                                    const SamplingOptions& opts, const std::function<void(int32_t)>& on_token) {
  const int64_t V = m.model->config().vocab_size;
  if (prompt.empty()) return invalid_argument("the prompt has no tokens");
  for (int32_t t : prompt)
    if (t < 0 || t >= V)
      return invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary (size " +
                              std::to_string(V) + ")");
  auto created = model::SimpleRunner::create(*m.model, 1, static_cast<int32_t>(prompt.size() + opts.max_tokens));
  if (!created.ok()) return created.status();
  model::SimpleRunner& runner = *created;
  const std::vector<int32_t> stop = m.stop_ids();
  engine::SamplingParams params;
  params.temperature = static_cast<float>(opts.temperature);
  params.seed = opts.seed;
  std::mt19937_64 rng = engine::make_rng(params);
  engine::Sampler sampler;
  std::vector<float> logits;
  GenerationResult r;
  r.finish_reason = "length";
  auto t0 = Clock::now();
  TESSERA_RETURN_IF_ERROR(runner.append({prompt}, logits));
  auto t1 = Clock::now();
  while (static_cast<int64_t>(r.tokens.size()) < opts.max_tokens) {
    TESSERA_RETURN_IF_ERROR(m.backend->status());
    const int32_t next = sampler.sample(std::span<float>(logits.data(), V), params, prompt, r.tokens, {}, rng).token;
    r.tokens.push_back(next);
    if (on_token) on_token(next);
    if (!opts.ignore_eos && std::count(stop.begin(), stop.end(), next)) {
      r.finish_reason = "stop";
      break;
    }
    if (static_cast<int64_t>(r.tokens.size()) == opts.max_tokens) break;
    TESSERA_RETURN_IF_ERROR(runner.decode(std::span<const int32_t>(&next, 1), logits));
  }
  TESSERA_RETURN_IF_ERROR(m.backend->status());
  r.prefill_s = std::chrono::duration<double>(t1 - t0).count();
  r.decode_s = std::chrono::duration<double>(Clock::now() - t1).count();
  return r;
}

}  // namespace tessera::cli
