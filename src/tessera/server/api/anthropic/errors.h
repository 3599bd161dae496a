// Anthropic's error envelope: {"type": "error", "error": {"type", "message"}}, with its status codes and types:
// 400 invalid_request_error, 401 authentication_error, 403 permission_error, 404 not_found_error,
// 413 request_too_large, 429 rate_limit_error, 500 api_error, 529 overloaded_error (an ApiError of 503 is sent
// as 529, the status Anthropic's SDKs retry as overload).
#pragma once

#include <string>

#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"

namespace tessera::server::api::anthropic {

Json error_body(const ApiError& error);
Reply error_reply(const ApiError& error);
// `event: error` for a stream that already started (the SDKs raise on it); nothing follows it.
std::string error_event(const ApiError& error);

}  // namespace tessera::server::api::anthropic
