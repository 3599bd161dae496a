// CORS: which browser origins may call the server, and the Access-Control-* fields that tell the browser so. Off
// (no fields, no preflight answers) unless origins are configured.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tessera/server/http/request.h"

namespace tessera::server::http {

class CorsPolicy {
 public:
  // "*" in `allowed_origins` allows any origin.
  explicit CorsPolicy(std::vector<std::string> allowed_origins);

  bool enabled() const { return !origins_.empty(); }

  // The Access-Control-Allow-Origin value for a request: "*" when any origin is allowed, the request's Origin when
  // it is listed, and "" when CORS is off, the request has no Origin, or it is not allowed.
  std::string allow_origin(const Request& request) const;

  // An OPTIONS request with Origin and Access-Control-Request-Method: the browser asking before the real request.
  static bool is_preflight(const Request& request);

  // Fields for any response to an allowed origin (`allow_origin` as returned above, not empty).
  static void add_response_fields(std::string_view allow_origin, HeaderList& fields);
  // The extra fields of a preflight answer; `methods` is the path's Allow list, or "" to allow the method asked for.
  static HeaderList preflight_fields(const Request& request, std::string_view methods);

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

}  // namespace tessera::server::http
