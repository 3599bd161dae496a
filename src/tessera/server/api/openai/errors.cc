#include "tessera/server/api/openai/errors.h"

#include "tessera/server/api/sse.h"

namespace tessera::server::api::openai {
namespace {

std::string default_type(int status) {
  if (status == 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

Json or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

}  // namespace

Json error_body(const ApiError& error) {
  Json e = Json::object();
  e["message"] = error.message;
  e["type"] = error.type.empty() ? default_type(error.http_status) : error.type;
  e["param"] = or_null(error.param);
  e["code"] = or_null(error.code);
  return Json{{"error", std::move(e)}};
}

Reply error_reply(const ApiError& error) { return {error.http_status, dump(error_body(error))}; }

std::string error_chunk(const ApiError& error) { return sse_data(dump(error_body(error))) + std::string(kSseDone); }

}  // namespace tessera::server::api::openai
