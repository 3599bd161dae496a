// Sampler: picks the next token of one sequence from its row of logits, applying that request's own sampling
// parameters. The engine calls it once per row of a batch, so every request is sampled exactly as if it ran
// alone: its penalties see only its own tokens, and its random stream is its own (seeded per request), which
// makes a seeded request give the same tokens whatever else shares the batch.
//
// Order, as vLLM and the OpenAI API define it: logit_bias; min_tokens (end-of-sequence ids masked); repetition
// penalty (over prompt and output), presence and frequency penalties (over output); then greedy (temperature 0)
// or temperature, top_k, top_p, min_p and a draw. Log-probabilities are of the model's raw distribution.
//
// Threading: a Sampler holds scratch space; one per engine thread.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "tessera/util/status.h"

namespace tessera::engine {

struct SamplingParams {
  float temperature = 1.0f;                           // 0: greedy
  int32_t top_k = 0;                                  // 0: off
  float top_p = 1.0f;                                 // (0, 1]
  float min_p = 0.0f;                                 // [0, 1]: drop tokens below min_p * the top probability
  float repetition_penalty = 1.0f;                    // > 0; 1: off
  float presence_penalty = 0.0f;                      // [-2, 2]
  float frequency_penalty = 0.0f;                     // [-2, 2]
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added to its logit ([-100, 100])
  std::optional<uint64_t> seed;
  int32_t min_tokens = 0;     // end-of-sequence ids are masked until this many tokens are out
  int32_t num_logprobs = -1;  // -1: none; 0..20: the chosen token's logprob and this many alternatives
};

// InvalidArgument naming the field, for values outside the ranges above or token ids outside [0, vocab_size).
Status validate(const SamplingParams& params, int64_t vocab_size);

struct TokenLogprob {
  int32_t token;
  float logprob;
};

struct SampleResult {
  int32_t token = -1;
  float logprob = 0.0f;           // of `token`, when num_logprobs >= 0
  std::vector<TokenLogprob> top;  // the num_logprobs most likely tokens, most likely first
};

// A request's random stream: seeded from params.seed, or from a non-deterministic source when there is none.
std::mt19937_64 make_rng(const SamplingParams& params);

class Sampler {
 public:
  // `logits` [V] is modified in place. `prompt` and `output` are the sequence's tokens so far (for penalties and
  // min_tokens); `eos_ids` are the ids min_tokens masks. REQUIRES: validate(params, V) is OK.
  SampleResult sample(std::span<float> logits, const SamplingParams& params, std::span<const int32_t> prompt,
                      std::span<const int32_t> output, std::span<const int32_t> eos_ids, std::mt19937_64& rng);

 private:
  void apply_penalties(std::span<float> logits, const SamplingParams& p, std::span<const int32_t> prompt,
                       std::span<const int32_t> output);
  // The smallest set of most likely candidates the filters keep, as (id, probability) sorted by probability.
  void filter_candidates(std::span<const float> logits, const SamplingParams& p);

  std::vector<float> probs_;
  std::vector<int32_t> order_;
  std::vector<std::pair<int32_t, float>> kept_;
  std::vector<int32_t> counts_;  // per token id, output occurrences (reset after use)
  std::vector<uint8_t> seen_;    // per token id, in prompt or output (reset after use)
};

}  // namespace tessera::engine
