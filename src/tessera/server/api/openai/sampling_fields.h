// The request fields that POST /v1/chat/completions and POST /v1/completions share: sampling, stops, limits,
// streaming, and vLLM's extras (ignore_eos, min_tokens, stop_token_ids, skip_special_tokens,
// include_stop_str_in_output, cache_salt, repetition_penalty, top_k, min_p). Logprobs differ per endpoint and are
// read by each.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tessera/engine/generation.h"
#include "tessera/server/api/field_reader.h"
#include "tessera/server/api/served_model.h"

namespace tessera::server::api::openai {

// More stop strings than OpenAI's 4 are accepted (vLLM takes any number); this bounds the matcher's work.
inline constexpr size_t kMaxStopStrings = 64;
inline constexpr size_t kMaxStopStringBytes = 1024;
inline constexpr int32_t kMaxChoices = 128;  // n, as OpenAI caps it

struct CommonFields {
  std::optional<int64_t> max_tokens;  // max_completion_tokens, else max_tokens; nullopt: until the context ends
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage (ignored when not streaming)
  std::string user;
};

// Reads the shared fields of `body` into `gen` (sampling, n, stop rules, flags) and `common`. Errors go to `r`.
// `model` bounds token ids (logit_bias keys, stop_token_ids).
void read_common_fields(FieldReader& r, const ServedModel& model, engine::GenerationRequest& gen, CommonFields& common);

}  // namespace tessera::server::api::openai
