// `tessera bench latency MODEL --batch B --input-len I --output-len O [--json]`: one static batch, in-process.
// B random prompts of I tokens are prefilled (all in one forward pass, or in chunks of --max-batch-tokens), then
// O tokens are decoded for all B sequences together, one forward pass per step (greedy; EOS ignored).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tessera/backend/backend_factory.h"
#include "tessera/cli/args.h"
#include "tessera/cli/bench_common.h"
#include "tessera/cli/commands.h"
#include "tessera/model/simple_runner.h"

namespace tessera::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int bench_latency(int argc, char** argv) {
  auto args = Args::parse(
      argc, argv, 3, {"batch", "input-len", "output-len", "threads", "max-batch-tokens", "seed", "warmup", "device"},
      {"json"});
  if (!args.ok()) return fail("bench latency", args.status());
  if (args->positionals().empty()) return fail("bench latency", invalid_argument("missing MODEL"));
  auto batch = args->get_int("batch", 1), input_len = args->get_int("input-len", 128),
       output_len = args->get_int("output-len", 128), threads = args->get_int("threads", 0),
       chunk = args->get_int("max-batch-tokens", 0), seed = args->get_int("seed", 0),
       warmup = args->get_int("warmup", 1);
  for (const Status& s : {batch.status(), input_len.status(), output_len.status(), threads.status(), chunk.status(),
                          seed.status(), warmup.status()})
    if (!s.ok()) return fail("bench latency", s);
  if (*batch < 1 || *batch > 4096 || *input_len < 1 || *output_len < 1 || *input_len + *output_len > (1 << 20))
    return fail("bench latency", invalid_argument("--batch, --input-len and --output-len must be positive"));

  auto path = resolve_model_path(args->positionals()[0]);
  if (!path.ok()) return fail("bench latency", path.status());
  auto made = backend::make_backend(args->get("device").value_or("auto"), static_cast<int>(*threads));
  if (!made.ok()) return fail("bench latency", made.status());
  backend::Backend& be = **made;
  auto model = model::Model::load(*path, be);
  if (!model.ok()) return fail("bench latency", model.status());
  const int64_t V = (*model)->config().vocab_size;

  std::mt19937_64 rng(static_cast<uint64_t>(*seed));
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(V - 1));
  std::vector<std::vector<int32_t>> prompts(*batch, std::vector<int32_t>(*input_len));
  for (auto& p : prompts)
    for (auto& t : p) t = tok(rng);

  struct Run {
    double prefill_s = 0, decode_s = 0;
  };
  auto run_once = [&]() -> Expected<Run> {
    auto created = model::SimpleRunner::create(**model, static_cast<int32_t>(*batch),
                                               static_cast<int32_t>(*input_len + *output_len));
    if (!created.ok()) return created.status();
    model::SimpleRunner& runner = *created;
    std::vector<float> logits;
    Run r;
    auto t0 = Clock::now();
    TESSERA_RETURN_IF_ERROR(runner.append(prompts, logits, *chunk));
    r.prefill_s = seconds_since(t0);
    std::vector<int32_t> next(*batch);
    auto t1 = Clock::now();
    for (int64_t step = 0; step < *output_len; ++step) {
      for (int64_t s = 0; s < *batch; ++s)
        next[s] = static_cast<int32_t>(std::max_element(logits.begin() + s * V, logits.begin() + (s + 1) * V) -
                                       (logits.begin() + s * V));
      if (step + 1 == *output_len) break;  // the last token needs no forward pass
      TESSERA_RETURN_IF_ERROR(runner.decode(next, logits));
    }
    r.decode_s = seconds_since(t1);
    TESSERA_RETURN_IF_ERROR(be.status());
    return r;
  };
  for (int64_t i = 0; i < *warmup; ++i)
    if (auto w = run_once(); !w.ok()) return fail("bench latency", w.status());
  auto r = run_once();
  if (!r.ok()) return fail("bench latency", r.status());

  const double prefill_tps = *batch * *input_len / r->prefill_s;
  const double decode_steps = static_cast<double>(*output_len - 1);
  const double decode_tps = decode_steps > 0 ? *batch * decode_steps / r->decode_s : 0.0;
  nlohmann::ordered_json j = {
      {"benchmark", "latency"},
      {"model", args->positionals()[0]},
      {"backend", be.name()},
      {"batch", *batch},
      {"input_len", *input_len},
      {"output_len", *output_len},
      {"prefill_s", r->prefill_s},
      {"prefill_tokens_per_s", prefill_tps},
      {"decode_s", r->decode_s},
      {"decode_tokens_per_s", decode_tps},
      {"time_per_output_token_ms", decode_steps > 0 ? 1000.0 * r->decode_s / decode_steps : 0.0},
      {"machine", machine_json(be.name(), *threads)},
      {"commit", git_commit()},
      {"command", command_line(argc, argv)},
  };
  if (args->has("json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("batch %lld, input %lld, output %lld on %s\n", static_cast<long long>(*batch),
                static_cast<long long>(*input_len), static_cast<long long>(*output_len), be.name().c_str());
    std::printf("  prefill: %8.3f s  %9.1f tok/s\n", r->prefill_s, prefill_tps);
    std::printf("  decode:  %8.3f s  %9.1f tok/s (aggregate), %.2f ms per step\n", r->decode_s, decode_tps,
                decode_steps > 0 ? 1000.0 * r->decode_s / decode_steps : 0.0);
  }
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[2]) == "latency") return bench_latency(argc, argv);
  if (argc >= 3 && std::string(argv[2]) == "throughput") return bench_throughput(argc, argv);
  return fail("bench",
              invalid_argument("usage: tessera bench latency MODEL --batch B --input-len I --output-len O "
                               "[--max-batch-tokens N] [--threads N] [--json]\n"
                               "       tessera bench throughput MODEL --num-prompts N --input-len I --output-len O "
                               "[--prefix-len P] [--sequential] [engine flags] [--json]"));
}

}  // namespace tessera::cli
