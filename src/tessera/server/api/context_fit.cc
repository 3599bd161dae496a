#include "tessera/server/api/context_fit.h"

#include <algorithm>

namespace tessera::server::api {

ApiResult<int32_t> fit_max_tokens(Protocol protocol, int64_t num_prompt_tokens, std::optional<int64_t> max_tokens,
                                  int64_t max_model_len, const std::string& param) {
  if (num_prompt_tokens >= max_model_len) {
    if (protocol == Protocol::kAnthropic)
      return invalid_request("prompt is too long: " + std::to_string(num_prompt_tokens) + " tokens > " +
                             std::to_string(max_model_len - 1) + " maximum");
    return invalid_request("This model's maximum context length is " + std::to_string(max_model_len) +
                               " tokens. However, your request has " + std::to_string(num_prompt_tokens) +
                               " input tokens. Please reduce the length of the input messages.",
                           param, "context_length_exceeded");
  }
  const int64_t room = max_model_len - num_prompt_tokens;
  return static_cast<int32_t>(std::min<int64_t>({max_tokens.value_or(room), room, INT32_MAX}));
}

}  // namespace tessera::server::api
