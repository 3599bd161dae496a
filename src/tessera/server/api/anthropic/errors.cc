#include "tessera/server/api/anthropic/errors.h"

#include "tessera/server/api/sse.h"

namespace tessera::server::api::anthropic {
namespace {

int wire_status(int status) { return status == 503 ? 529 : status; }

std::string default_type(int status) {
  switch (wire_status(status)) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

Json error_body(const ApiError& error) {
  Json e = Json::object();
  e["type"] = error.type.empty() ? default_type(error.http_status) : error.type;
  e["message"] = error.message;
  Json body = Json::object();
  body["type"] = "error";
  body["error"] = std::move(e);
  return body;
}

Reply error_reply(const ApiError& error) { return {wire_status(error.http_status), dump(error_body(error))}; }

std::string error_event(const ApiError& error) { return sse_event("error", dump(error_body(error))); }

}  // namespace tessera::server::api::anthropic
