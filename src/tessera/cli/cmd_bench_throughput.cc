// `tessera bench throughput MODEL --num-prompts N --input-len I --output-len O [--prefix-len P] [--json]`:
// offline and in-process, through the engine (scheduler, paged KV pool, prefix cache, sampler) with no server.
// N prompts of I random tokens (the first P shared by all) are submitted at once and each generates exactly O
// tokens (EOS ignored). With --sequential each request is submitted only after the previous one finished, which
// isolates time to first token: with --prefix-len the first request misses the prefix cache and the rest hit.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "tessera/cli/bench_common.h"
#include "tessera/cli/commands.h"
#include "tessera/cli/engine_options.h"
#include "tessera/cli/generation.h"
#include "tessera/engine/engine_core.h"

namespace tessera::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  Clock::time_point submitted, first_token;
  bool has_first = false;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int bench_throughput(int argc, char** argv) {
  std::set<std::string> value_flags = {"num-prompts", "input-len", "output-len", "prefix-len",
                                       "threads",     "device",    "seed"};
  value_flags.insert(engine_value_flags().begin(), engine_value_flags().end());
  std::set<std::string> bool_flags = {"json", "sequential"};
  bool_flags.insert(engine_bool_flags().begin(), engine_bool_flags().end());
  auto args = Args::parse(argc, argv, 3, value_flags, bool_flags);
  if (!args.ok()) return fail("bench throughput", args.status());
  auto num_prompts = args->get_int("num-prompts", 16), input_len = args->get_int("input-len", 128),
       output_len = args->get_int("output-len", 64), prefix_len = args->get_int("prefix-len", 0),
       seed = args->get_int("seed", 0);
  for (const Status& s :
       {num_prompts.status(), input_len.status(), output_len.status(), prefix_len.status(), seed.status()})
    if (!s.ok()) return fail("bench throughput", s);
  if (*num_prompts < 1 || *num_prompts > 100000 || *input_len < 1 || *output_len < 1 ||
      *input_len + *output_len > (1 << 24))
    return fail("bench throughput", invalid_argument("--num-prompts, --input-len and --output-len must be positive"));
  if (*prefix_len < 0 || *prefix_len > *input_len)
    return fail("bench throughput", invalid_argument("--prefix-len must be between 0 and --input-len"));
  auto config = engine_config(*args);
  if (!config.ok()) return fail("bench throughput", config.status());

  auto loaded = load_model(*args, /*with_tokenizer=*/false);
  if (!loaded.ok()) return fail("bench throughput", loaded.status());
  auto core = engine::EngineCore::create(*loaded->model, nullptr, *config);
  if (!core.ok()) return fail("bench throughput", core.status());
  engine::EngineCore& ec = **core;
  const int64_t V = loaded->model->config().vocab_size;

  std::mt19937_64 rng(static_cast<uint64_t>(*seed));
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(V - 1));
  std::vector<int32_t> prefix(static_cast<size_t>(*prefix_len));
  for (auto& t : prefix) t = tok(rng);
  auto make_request = [&](int64_t len, int64_t out) {
    engine::GenerationRequest r;
    r.prompt = prefix;
    r.prompt.resize(static_cast<size_t>(std::max(len, *prefix_len)));
    for (size_t i = prefix.size(); i < r.prompt.size(); ++i) r.prompt[i] = tok(rng);
    r.prompt.resize(static_cast<size_t>(len));
    r.max_tokens = static_cast<int32_t>(out);
    r.ignore_eos = true;
    r.detokenize = false;
    r.sampling.temperature = 0.0f;
    return r;
  };
  if (Status s = ec.validate(make_request(*input_len, *output_len)); !s.ok()) return fail("bench throughput", s);

  engine::RequestId next_id = 1;
  std::map<engine::RequestId, std::shared_ptr<engine::RequestStream>> streams;
  std::map<engine::RequestId, Timing> timing;
  auto submit = [&](engine::GenerationRequest r) {
    const engine::RequestId id = next_id++;
    auto stream = std::make_shared<engine::RequestStream>(id, 1);
    timing[id].submitted = Clock::now();
    ec.add_request(id, std::move(r), stream);
    streams[id] = stream;
  };
  int64_t output_tokens = 0;
  auto run_to_end = [&]() -> Status {
    while (ec.has_work()) {
      ec.step();
      const auto now = Clock::now();
      for (auto it = streams.begin(); it != streams.end();) {
        for (const engine::RequestEvent& ev : it->second->poll()) {
          output_tokens += static_cast<int64_t>(ev.token_ids.size());
          Timing& t = timing[it->first];
          if (!t.has_first && !ev.token_ids.empty()) {
            t.first_token = now;
            t.has_first = true;
          }
          if (ev.finish && *ev.finish == engine::FinishReason::kError) return internal_error(ev.error);
        }
        it = it->second->finished() ? streams.erase(it) : std::next(it);
      }
    }
    return loaded->backend->status();
  };

  // Warm-up: one short unrelated request, so one-time costs (workspace growth) do not land on the first timing.
  {
    std::vector<int32_t> saved = prefix;
    prefix.clear();
    submit(make_request(std::min<int64_t>(*input_len, ec.config().max_num_batched_tokens), 2));
    prefix = saved;
    if (Status s = run_to_end(); !s.ok()) return fail("bench throughput", s);
    timing.clear();
    output_tokens = 0;
  }

  const engine::EngineStats before = ec.stats();
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < *num_prompts; ++i) {
    submit(make_request(*input_len, *output_len));
    if (args->has("sequential"))
      if (Status s = run_to_end(); !s.ok()) return fail("bench throughput", s);
  }
  if (Status s = run_to_end(); !s.ok()) return fail("bench throughput", s);
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const engine::EngineStats st = ec.stats();

  std::vector<double> ttft;
  for (const auto& [id, t] : timing) ttft.push_back(ms_between(t.submitted, t.first_token));
  const int64_t input_tokens = *num_prompts * *input_len;
  const int64_t hit_tokens = st.prefix_cache_hit_tokens - before.prefix_cache_hit_tokens;
  const int64_t query_tokens = st.prefix_cache_query_tokens - before.prefix_cache_query_tokens;
  nlohmann::ordered_json j = {
      {"benchmark", "throughput"},
      {"model", args->positionals()[0]},
      {"backend", loaded->backend->name()},
      {"requests", *num_prompts},
      {"input_tokens", input_tokens},
      {"output_tokens", output_tokens},
      {"elapsed_s", elapsed},
      {"output_tokens_per_s", static_cast<double>(output_tokens) / elapsed},
      {"total_tokens_per_s", static_cast<double>(input_tokens + output_tokens) / elapsed},
      {"requests_per_s", static_cast<double>(*num_prompts) / elapsed},
      {"prefix_len", *prefix_len},
      {"sequential", args->has("sequential")},
      {"mean_ttft_ms", mean(ttft)},
      {"median_ttft_ms", median(ttft)},
      {"first_ttft_ms", ttft.empty() ? 0.0 : ttft.front()},
      {"rest_mean_ttft_ms", ttft.size() > 1 ? mean(std::vector<double>(ttft.begin() + 1, ttft.end())) : 0.0},
      {"prefix_cache_hit_rate", query_tokens ? static_cast<double>(hit_tokens) / query_tokens : 0.0},
      {"num_preemptions", st.num_preemptions - before.num_preemptions},
      {"kv_usage_at_first_preemption", st.kv_usage_at_first_preemption},
      {"num_steps", st.num_steps - before.num_steps},
      {"kv_blocks", st.num_blocks},
      {"block_size", ec.config().block_size},
      {"max_num_seqs", ec.config().max_num_seqs},
      {"max_num_batched_tokens", ec.config().max_num_batched_tokens},
      {"prefix_caching", ec.config().enable_prefix_caching},
      {"machine", machine_json(loaded->backend->name(), *args->get_int("threads", 0))},
      {"commit", git_commit()},
      {"command", command_line(argc, argv)},
  };
  if (args->has("json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%lld requests of %lld + %lld tokens on %s in %.3f s\n", static_cast<long long>(*num_prompts),
                static_cast<long long>(*input_len), static_cast<long long>(*output_len),
                loaded->backend->name().c_str(), elapsed);
    std::printf("  output: %9.1f tok/s   total: %9.1f tok/s   %.2f req/s\n", j["output_tokens_per_s"].get<double>(),
                j["total_tokens_per_s"].get<double>(), j["requests_per_s"].get<double>());
    std::printf("  TTFT: mean %.1f ms, median %.1f ms, first %.1f ms, rest mean %.1f ms\n",
                j["mean_ttft_ms"].get<double>(), j["median_ttft_ms"].get<double>(), j["first_ttft_ms"].get<double>(),
                j["rest_mean_ttft_ms"].get<double>());
    std::printf("  prefix cache hit rate %.1f%%, %lld preemptions, %lld steps\n",
                100.0 * j["prefix_cache_hit_rate"].get<double>(),
                static_cast<long long>(j["num_preemptions"].get<int64_t>()),
                static_cast<long long>(j["num_steps"].get<int64_t>()));
  }
  return 0;
}

}  // namespace tessera::cli
