#include "tessera/server/api/api_error.h"

namespace tessera::server::api {
namespace {

ApiError make(int status, std::string message, std::string code = "") {
  ApiError e;
  e.http_status = status;
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

}  // namespace

ApiError invalid_request(std::string message, std::string param, std::string code) {
  ApiError e = make(400, std::move(message), std::move(code));
  e.param = std::move(param);
  return e;
}

ApiError invalid_type(const std::string& param, std::string_view expected, std::string_view got) {
  return invalid_request("Invalid type for '" + param + "': expected " + std::string(expected) + ", but got " +
                             std::string(got) + " instead.",
                         param, "invalid_type");
}

ApiError invalid_value(const std::string& param, std::string_view expected, std::string_view got) {
  return invalid_request("Invalid value for '" + param + "': expected " + std::string(expected) + ", but got " +
                             std::string(got) + " instead.",
                         param, "invalid_value");
}

ApiError missing_parameter(const std::string& param) {
  return invalid_request("Missing required parameter: '" + param + "'.", param, "missing_required_parameter");
}

ApiError not_supported(std::string message, std::string param) {
  return invalid_request(std::move(message), std::move(param), "unsupported_parameter");
}

ApiError authentication_failed(std::string message) { return make(401, std::move(message), "invalid_api_key"); }
ApiError permission_denied(std::string message) { return make(403, std::move(message)); }

ApiError model_not_found(std::string_view model) {
  ApiError e = make(404, "The model `" + std::string(model) + "` does not exist or you do not have access to it.",
                    "model_not_found");
  e.param = "model";
  return e;
}

ApiError not_found(std::string message) { return make(404, std::move(message)); }
ApiError request_too_large(std::string message) { return make(413, std::move(message)); }
ApiError rate_limited(std::string message) { return make(429, std::move(message), "rate_limit_exceeded"); }
ApiError internal_error(std::string message) { return make(500, std::move(message)); }
ApiError overloaded(std::string message) { return make(503, std::move(message)); }

ApiError error_from_status(const Status& status) {
  std::string message(status.message());
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnimplemented:
    case StatusCode::kResourceExhausted:
      return invalid_request(std::move(message));
    case StatusCode::kNotFound:
      return not_found(std::move(message));
    case StatusCode::kUnavailable:
      return overloaded(std::move(message));
    case StatusCode::kOk:  // not an error; a caller bug, reported rather than hidden
    case StatusCode::kDataLoss:
    case StatusCode::kInternal:
      break;
  }
  return internal_error(message.empty() ? "internal error" : std::move(message));
}

bool is_failure(engine::FinishReason reason) {
  return reason == engine::FinishReason::kError || reason == engine::FinishReason::kAbort;
}

ApiError error_from_finish(const engine::RequestEvent& event) {
  if (event.finish == engine::FinishReason::kAbort)
    return overloaded("The request was aborted because the server is shutting down; please retry.");
  return internal_error(event.error.empty() ? "The server had an error while generating the response."
                                            : "The server had an error while generating the response: " + event.error);
}

}  // namespace tessera::server::api
