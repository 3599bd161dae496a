// OpenAI's error envelope: {"error": {"message", "type", "param", "code"}}, with the status codes and types the
// official API uses: 4xx are "invalid_request_error" (401 too, with code "invalid_api_key"; 404 of a model with
// code "model_not_found"), 429 "requests" (code "rate_limit_exceeded"), 5xx "server_error".
#pragma once

#include <string>

#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"

namespace tessera::server::api::openai {

Json error_body(const ApiError& error);
Reply error_reply(const ApiError& error);
// The error as a stream ends with it after the response has started: `data: {"error": ...}` then `data: [DONE]`
// (what vLLM sends; the OpenAI SDKs raise an APIError on it).
std::string error_chunk(const ApiError& error);

}  // namespace tessera::server::api::openai
