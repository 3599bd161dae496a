// Server-sent events framing of the two APIs: OpenAI sends bare `data:` lines and ends with `data: [DONE]`;
// Anthropic names every event (`event: message_start`) and ends with its message_stop event.
#pragma once

#include <string>
#include <string_view>

namespace tessera::server::api {

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// `data: JSON\n\n`. The JSON is one line (api::dump never writes a newline), so it needs no splitting.
inline std::string sse_data(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out.append("data: ").append(json).append("\n\n");
  return out;
}

// `event: NAME\ndata: JSON\n\n`.
inline std::string sse_event(std::string_view name, std::string_view json) {
  std::string out;
  out.reserve(name.size() + json.size() + 16);
  out.append("event: ").append(name).append("\ndata: ").append(json).append("\n\n");
  return out;
}

}  // namespace tessera::server::api
