#include "tessera/server/http/cors.h"

#include <algorithm>

namespace tessera::server::http {

CorsPolicy::CorsPolicy(std::vector<std::string> allowed_origins) : origins_(std::move(allowed_origins)) {
  any_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
}

std::string CorsPolicy::allow_origin(const Request& request) const {
  if (!enabled()) return "";
  std::string_view origin = request.header("origin");
  if (origin.empty()) return "";
  if (any_) return "*";
  // Origins compare exactly (scheme://host[:port]); browsers send them in lower case.
  for (const auto& o : origins_) {
    if (o == origin) return o;
  }
  return "";
}

bool CorsPolicy::is_preflight(const Request& request) {
  return request.method == "OPTIONS" && request.has_header("origin") &&
         request.has_header("access-control-request-method");
}

void CorsPolicy::add_response_fields(std::string_view allow_origin, HeaderList& fields) {
  fields.emplace_back("Access-Control-Allow-Origin", std::string(allow_origin));
  // A response that names one origin differs by Origin: caches must not hand it to another.
  if (allow_origin != "*") fields.emplace_back("Vary", "Origin");
}

HeaderList CorsPolicy::preflight_fields(const Request& request, std::string_view methods) {
  HeaderList fields;
  fields.emplace_back("Access-Control-Allow-Methods",
                      std::string(methods.empty() ? request.header("access-control-request-method") : methods));
  if (std::string_view asked = request.header("access-control-request-headers"); !asked.empty()) {
    fields.emplace_back("Access-Control-Allow-Headers", std::string(asked));
  }
  fields.emplace_back("Access-Control-Max-Age", "600");
  return fields;
}

}  // namespace tessera::server::http
