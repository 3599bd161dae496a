// ApiError: what a client is told when its request cannot be served, before the protocol's envelope is put around
// it. The parsers of both APIs return it; the glue turns it into a reply with openai::error_reply() or
// anthropic::error_reply() (each API has its own body shape, error types and, for overload, status code).
//
// `type` may stay empty: the envelope then picks the API's type for the status (400 is "invalid_request_error" in
// both APIs, which is why code shared by the two can build errors without knowing which API it serves).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "tessera/engine/generation.h"
#include "tessera/util/status.h"

namespace tessera::server::api {

struct ApiError {
  int http_status = 400;
  std::string type;     // empty: the envelope's default for http_status
  std::string message;  // names the offending parameter, for both APIs (Anthropic has no `param` field)
  std::string param;    // OpenAI's `param` ("messages[0].content"); empty: null
  std::string code;     // OpenAI's `code` ("invalid_type", "model_not_found"); empty: null
};

// 400 with the parameter named; `code` as OpenAI sends it ("invalid_value" unless told otherwise).
ApiError invalid_request(std::string message, std::string param = "", std::string code = "");
// "Invalid type for 'temperature': expected a number, but got a string instead."
ApiError invalid_type(const std::string& param, std::string_view expected, std::string_view got);
// "Invalid value for 'temperature': expected a number between 0 and 2, but got 3 instead."
ApiError invalid_value(const std::string& param, std::string_view expected, std::string_view got);
// "Missing required parameter: 'max_tokens'."
ApiError missing_parameter(const std::string& param);
// A feature tessera does not have yet (images, structured output): 400, saying so plainly.
ApiError not_supported(std::string message, std::string param = "");
ApiError authentication_failed(std::string message);  // 401 (OpenAI code invalid_api_key)
ApiError permission_denied(std::string message);      // 403
ApiError model_not_found(std::string_view model);     // 404 (OpenAI code model_not_found)
ApiError not_found(std::string message);              // 404, an unknown route
ApiError request_too_large(std::string message);      // 413
ApiError rate_limited(std::string message);           // 429
ApiError internal_error(std::string message);         // 500
ApiError overloaded(std::string message);             // 503 (Anthropic sends 529 overloaded_error)

// The one table from engine/util status codes to HTTP: InvalidArgument, Unimplemented and ResourceExhausted (a
// request that can never fit the context or the KV pool) are the client's 400; NotFound 404; Unavailable
// (draining, shutting down) 503; the rest 500.
ApiError error_from_status(const Status& status);

// A sequence that ended in kError (500, the engine's message) or kAbort (503: only shutdown aborts a request whose
// client is still there). REQUIRES: event.finish is kError or kAbort.
ApiError error_from_finish(const engine::RequestEvent& event);
bool is_failure(engine::FinishReason reason);

// A reply as the glue sends it: status and a JSON body (content type application/json).
struct Reply {
  int http_status = 200;
  std::string body;
};

// A value or the ApiError that prevented it; the API layers' counterpart of Expected<T>.
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok()
  const ApiError& error() const {
    assert(!ok());
    return std::get<ApiError>(v_);
  }
  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace tessera::server::api
