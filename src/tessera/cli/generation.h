// What `generate` and `chat` share: loading a model (and its tokenizer) from the CLI flags, and running one
// sequence through the SimpleRunner with greedy or temperature sampling. The engine (engine/) replaces this loop
// with continuous batching and the full per-request sampler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tessera/backend/backend.h"
#include "tessera/cli/args.h"
#include "tessera/model/model.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::cli {

struct LoadedModel {
  std::string path;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;  // null unless asked for

  // Every id that ends generation: the model's EOS ids and, with a tokenizer, its end-of-turn ids.
  std::vector<int32_t> stop_ids() const;
};

// Loads positional MODEL with --device and --threads; with `with_tokenizer`, also its tokenizer.
Expected<LoadedModel> load_model(const Args& args, bool with_tokenizer);

struct SamplingOptions {
  int64_t max_tokens = 16;
  double temperature = 0.0;  // 0: greedy
  uint64_t seed = 0;
  bool ignore_eos = false;
};
Expected<SamplingOptions> sampling_options(const Args& args, int64_t default_max_tokens);

struct GenerationResult {
  std::vector<int32_t> tokens;
  std::string finish_reason;  // "stop" (an end id) or "length"
  double prefill_s = 0, decode_s = 0;
};

// Runs `prompt` and samples up to max_tokens; on_token(id) is called for each new token as it is chosen.
Expected<GenerationResult> generate(const LoadedModel& m, const std::vector<int32_t>& prompt,
                                    const SamplingOptions& opts, const std::function<void(int32_t)>& on_token = {});

}  // namespace tessera::cli
