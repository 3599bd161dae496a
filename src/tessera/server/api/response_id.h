// Identifiers and timestamps of response objects: "chatcmpl-...", "cmpl-...", "msg_01...".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::server::api {

// `prefix` followed by `num_chars` random letters and digits (about 5.95 bits each), from a per-thread generator
// seeded by the OS. Thread-safe.
std::string make_response_id(std::string_view prefix, size_t num_chars = 24);

// Seconds since the Unix epoch, for "created".
int64_t unix_seconds_now();

}  // namespace tessera::server::api
